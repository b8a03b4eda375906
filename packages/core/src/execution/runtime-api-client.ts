import net from 'node:net';

export interface RuntimeApiResponse {
  status: number;
  /** Header names lower-cased; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * HTTP/1.1 to Lambda's Runtime API on one keep-alive socket, for invoq's Node.js process runtime.
 * Written on `net`, not `http.request`: the Runtime API's answers are small and carry a length
 * (or are chunked), and Node's HTTP client cost about 0.15 ms a request, as much as the rest of an
 * invocation's round trip (measured against invoq's Runtime API).
 *
 * Requests are pipelined: each is written at once, and answers are matched to them in order
 * (HTTP/1.1 answers pipelined requests in order). So the runtime's `next` goes out right behind
 * its answer to the last invocation, without waiting for that answer's 202 (`npm run bench:runtimes`).
 * `onLost` is told when the connection fails or closes with a request waiting, or cannot be made.
 */
export class RuntimeApiClient {
  private socket: net.Socket | undefined;
  private received: Buffer = Buffer.alloc(0);
  /** Who waits for the answers to the requests written on `socket`, oldest first. */
  private waiting: Array<(response: RuntimeApiResponse) => void> = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly onLost: () => void,
  ) {}

  request(method: 'GET' | 'POST', urlPath: string, body?: string, headers: Record<string, string> = {}): Promise<RuntimeApiResponse> {
    let head = `${method} ${urlPath} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    if (body !== undefined) head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    return new Promise((resolve) => {
      const socket = this.connection();
      this.waiting.push(resolve);
      socket.ref();
      socket.write(body === undefined ? `${head}\r\n` : `${head}\r\n${body}`);
    });
  }

  private connection(): net.Socket {
    if (this.socket) return this.socket;
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => this.lost(socket));
    socket.on('close', () => this.lost(socket));
    this.socket = socket;
    this.received = Buffer.alloc(0);
    return socket;
  }

  /**
   * The socket went: requests waiting on it cannot be answered (nor safely sent again: one may
   * have been taken); an idle one is reopened on need.
   */
  private lost(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    const lostRequests = this.waiting.length > 0;
    this.waiting = [];
    if (lostRequests) this.onLost();
  }

  private receive(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    for (let response = this.parse(); response; response = this.parse()) {
      const resolve = this.waiting.shift();
      if (response.headers.connection?.toLowerCase() === 'close') {
        // What was pipelined behind this answer will not be answered on this connection.
        const socket = this.socket!;
        this.lost(socket);
        socket.destroy();
        resolve?.(response);
        return;
      }
      resolve?.(response);
    }
    // Idle, the connection keeps nothing alive (as an http.Agent's free socket): a handler's event
    // loop that empties while it waits must look empty (callbackWaitsForEmptyEventLoop).
    if (this.waiting.length === 0) this.socket?.unref();
  }

  /** A whole response at the front of what was received (taken off it), or undefined for more to come. */
  private parse(): RuntimeApiResponse | undefined {
    const headEnd = this.received.indexOf(HEAD_END);
    if (headEnd < 0) return undefined;
    const [statusLine = '', ...lines] = this.received.subarray(0, headEnd).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyStart = headEnd + HEAD_END.length;
    const body =
      headers['transfer-encoding']?.toLowerCase() === 'chunked'
        ? this.chunkedBody(bodyStart)
        : this.sizedBody(bodyStart, Number(headers['content-length'] ?? 0));
    if (!body) return undefined;
    this.received = this.received.subarray(body.end);
    return { status: Number(statusLine.split(' ')[1]), headers, body: body.text };
  }

  private sizedBody(start: number, length: number): { text: string; end: number } | undefined {
    if (this.received.length < start + length) return undefined;
    return { text: this.received.subarray(start, start + length).toString('utf8'), end: start + length };
  }

  private chunkedBody(start: number): { text: string; end: number } | undefined {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = this.received.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(this.received.subarray(at, lineEnd).toString('latin1').split(';')[0]!, 16);
      if (Number.isNaN(size)) return undefined;
      at = lineEnd + 2;
      if (size === 0) {
        // No trailers from a Runtime API: the last chunk is followed by the blank line.
        if (this.received.length < at + 2) return undefined;
        return { text: Buffer.concat(parts).toString('utf8'), end: at + 2 };
      }
      if (this.received.length < at + size + 2) return undefined;
      parts.push(this.received.subarray(at, at + size));
      at += size + 2;
    }
  }
}
