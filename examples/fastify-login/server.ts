import { buildLoginApp } from "./app.ts";

const appId = process.env.MINA_APP_ID;
const appSecret = process.env.MINA_APP_SECRET;
if (!appId || !appSecret) {
  console.error("set MINA_APP_ID and MINA_APP_SECRET (and MINA_BASE_URL, e.g. http://127.0.0.1:8787)");
  process.exit(2);
}
const app = buildLoginApp({ appId, appSecret, baseUrl: process.env.MINA_BASE_URL ?? "feishu" });
await app.listen({ port: Number(process.env.PORT ?? 3000) });
console.log(`example backend on http://127.0.0.1:${process.env.PORT ?? 3000}`);
