/**
 * HTTP/1.1 written byte by byte on a loopback socket, for requests no client library sends:
 * stray bytes after a request, no Host header, headers that stop half-way, a silent connection.
 */
import net from "node:net";

export interface RawExchange {
  /** Everything the server wrote before it closed its side (or before `waitMs` ran out). */
  text: string;
  /** Whether the server ended the connection. */
  closedByServer: boolean;
  /** Closes our side (already closed unless `halfOpen` was asked for). */
  close(): void;
}

/**
 * Connects to `base`, writes `bytes` (nothing when null) and reads until the server closes.
 * With `halfOpen`, our side stays open after the server's end, as a client that never closes
 * would leave it: only the server can free its socket then.
 */
export function rawExchange(
  base: string,
  bytes: string | Buffer | null,
  waitMs = 15_000,
  halfOpen = false,
): Promise<RawExchange> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ port: Number(port), host: hostname, allowHalfOpen: halfOpen }, () => {
      if (bytes !== null) socket.write(bytes);
    });
    const finish = (closedByServer: boolean) => {
      clearTimeout(timer);
      if (!halfOpen) socket.destroy();
      resolve({
        text: Buffer.concat(chunks).toString("utf8"),
        closedByServer,
        close: () => socket.destroy(),
      });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => finish(true));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNRESET") finish(true);
      else reject(error);
    });
  });
}

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: inspected field by field
  body: any;
}

/** The responses in a connection's bytes, in order (each framed by its Content-Length). */
export function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = text;
  while (rest.length > 0) {
    const headEnd = rest.indexOf("\r\n\r\n");
    if (headEnd === -1) throw new Error(`not an HTTP response: ${JSON.stringify(rest.slice(0, 200))}`);
    const [statusLine, ...lines] = rest.slice(0, headEnd).split("\r\n");
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get("content-length") ?? 0);
    const bodyBytes = Buffer.from(rest.slice(headEnd + 4), "utf8")
      .subarray(0, length)
      .toString("utf8");
    out.push({
      status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? "")?.[1] ?? 0),
      headers,
      body: bodyBytes === "" ? null : JSON.parse(bodyBytes),
    });
    rest = rest.slice(headEnd + 4 + bodyBytes.length);
  }
  return out;
}

/** A request's bytes: the method, path, headers (Host given unless `host: null`) and body. */
export function requestBytes(
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string>; host?: string | null } = {},
): Buffer {
  const body = typeof options.body === "string" ? Buffer.from(options.body) : options.body;
  let head = `${method} ${path} HTTP/1.1\r\n`;
  if (options.host !== null) head += `Host: ${options.host ?? "127.0.0.1"}\r\n`;
  for (const [name, value] of Object.entries(options.headers ?? {})) head += `${name}: ${value}\r\n`;
  if (body !== undefined) head += `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n`;
  head += "\r\n";
  return body === undefined ? Buffer.from(head) : Buffer.concat([Buffer.from(head), body]);
}
