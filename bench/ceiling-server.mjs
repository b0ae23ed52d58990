// The ceiling: Node's own HTTP server doing no work beyond what every JSON API does — read the
// body, parse it, answer a small JSON object. Prints {"port"} on stdout once listening.
import { createServer } from "node:http";

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    let code = null;
    try {
      code = JSON.parse(Buffer.concat(chunks).toString("utf8")).code ?? null;
    } catch {}
    const body = JSON.stringify({
      code: 0,
      msg: "success",
      data: { length: typeof code === "string" ? code.length : 0 },
    });
    res.writeHead(200, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
