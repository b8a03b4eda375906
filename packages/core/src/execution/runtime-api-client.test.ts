import net from 'node:net';
import { waitFor } from '../../../../test/support/harness';
import { RuntimeApiClient } from './runtime-api-client';

/** A server that answers each request with the next of `answers`, raw bytes, split in two writes. */
async function rawServer(answers: string[]): Promise<{ port: number; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk) => {
      requests.push(chunk.toString('latin1'));
      const answer = answers.shift() ?? '';
      const middle = Math.floor(answer.length / 2);
      socket.write(answer.slice(0, middle));
      setImmediate(() => socket.write(answer.slice(middle)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('RuntimeApiClient (the Node process runtime’s HTTP/1.1)', () => {
  it('reads sized and chunked answers on one connection, headers lower-cased', async () => {
    const server = await rawServer([
      'HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-1\r\nContent-Length: 9\r\n\r\n{"a":"é"}'.replace('9', String(Buffer.byteLength('{"a":"é"}'))),
      'HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"sta\r\na\r\ntus":"OK"}\r\n0\r\n\r\n',
    ]);
    const lost = jest.fn();
    const client = new RuntimeApiClient('127.0.0.1', server.port, lost);
    try {
      const next = await client.request('GET', '/2018-06-01/runtime/invocation/next');
      expect(next).toEqual({ status: 200, headers: { 'lambda-runtime-aws-request-id': 'r-1', 'content-length': '10' }, body: '{"a":"é"}' });
      const answered = await client.request('POST', '/2018-06-01/runtime/invocation/r-1/response', '"ok"', { 'X-Extra': 'yes' });
      expect(answered).toMatchObject({ status: 202, body: '{"status":"OK"}' });
      expect(server.requests[1]).toContain('POST /2018-06-01/runtime/invocation/r-1/response HTTP/1.1\r\n');
      expect(server.requests[1]).toContain('X-Extra: yes\r\n');
      expect(server.requests[1]).toMatch(/Content-Length: 4\r\n\r\n"ok"$/);
      expect(lost).not.toHaveBeenCalled();
    } finally {
      await server.close();
    }
  });

  it('tells onLost when the connection goes with a request waiting', async () => {
    const server = await rawServer([]);
    const lost = jest.fn();
    const client = new RuntimeApiClient('127.0.0.1', server.port, lost);
    void client.request('GET', '/2018-06-01/runtime/invocation/next');
    // The server answers nothing; closing it, once the request is on the wire, drops the
    // connection under the waiting request.
    await waitFor(() => server.requests.length === 1, 2000, 'the request on the wire');
    await server.close();
    await waitFor(() => lost.mock.calls.length > 0, 2000, 'onLost');
    expect(lost).toHaveBeenCalledTimes(1);
  });

  it('pipelines: a request goes out before the one ahead of it is answered, and answers match in order', async () => {
    // This server answers nothing until both requests are on the wire, then both in one write.
    let received = '';
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (chunk) => {
        received += chunk.toString('latin1');
        if ((received.match(/HTTP\/1\.1\r\n/g) ?? []).length < 2) return;
        socket.write(
          'HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-2\r\nContent-Length: 4\r\n\r\n"e2"',
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const lost = jest.fn();
    const client = new RuntimeApiClient('127.0.0.1', (server.address() as net.AddressInfo).port, lost);
    try {
      const answered = client.request('POST', '/2018-06-01/runtime/invocation/r-1/response', '"ok"');
      const next = client.request('GET', '/2018-06-01/runtime/invocation/next');
      await expect(answered).resolves.toMatchObject({ status: 202, body: '{}' });
      await expect(next).resolves.toMatchObject({ status: 200, headers: { 'lambda-runtime-aws-request-id': 'r-2' }, body: '"e2"' });
      expect(received.indexOf('POST ')).toBeLessThan(received.indexOf('GET '));
      expect(lost).not.toHaveBeenCalled();
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
