import type { MinaClientOptions } from "./types.ts";

/**
 * The platforms' base URLs, by the names `baseUrl` accepts.
 *
 * @example
 * ```ts
 * BaseUrls.lark; // "https://open.larksuite.com"
 * ```
 */
export const BaseUrls = {
  feishu: "https://open.feishu.cn",
  lark: "https://open.larksuite.com",
} as const;

/**
 * Resolves a `baseUrl` option to an origin (plus optional path prefix) without a trailing slash.
 *
 * @example
 * ```ts
 * resolveBaseUrl("feishu"); // "https://open.feishu.cn"
 * resolveBaseUrl("http://127.0.0.1:8787/"); // "http://127.0.0.1:8787"
 * ```
 */
export function resolveBaseUrl(baseUrl: MinaClientOptions["baseUrl"] = "feishu"): string {
  if (baseUrl === "feishu") return BaseUrls.feishu;
  if (baseUrl === "lark") return BaseUrls.lark;
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError('baseUrl must be "feishu", "lark" or an http(s) URL');
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError('baseUrl must be "feishu", "lark" or an http(s) URL');
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new TypeError("baseUrl must not carry credentials, a query or a fragment");
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, "");
}
