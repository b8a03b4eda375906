// Tests import the Redis helper from here; it lives in scripts/ because `npm start` uses it too.
export { startRedisServer, redisServerBinary, pingRedis, freePort } from '../scripts/redis-server.mjs';
