/**
 * The Redis key layout, decided once: every key of one function lives under
 * `<prefix>:{<function>}:…`. The braces are a Redis Cluster hash tag, so BullMQ's multi-key
 * scripts for one function stay on one slot while functions spread over the cluster, and
 * nothing needs a key shared by all functions.
 */
export function functionQueueName(functionName: string): string {
  return `{${functionName}}`;
}

/** The function a BullMQ queue name belongs to, or undefined for a name that is not ours. */
export function functionOfQueue(queueName: string): string | undefined {
  const match = /^\{([A-Za-z0-9_-]{1,64})\}$/.exec(queueName);
  return match?.[1];
}

/** A key of ours (not BullMQ's) for one function, e.g. `invoq:{orders}:config`. */
export function functionKey(prefix: string, functionName: string, suffix: string): string {
  return `${prefix}:${functionQueueName(functionName)}:${suffix}`;
}
