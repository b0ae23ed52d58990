const EXCHANGE_ROUTE = "/open-apis/mina/v2/tokenLoginValidate";

/**
 * Sums tokenLoginValidate's counters in the server's Prometheus text (GET /metrics): result code
 * 0 is a login, any other a failed exchange.
 */
export function countExchanges(metrics: string): { logins: number; failures: number } {
  let logins = 0;
  let failures = 0;
  const line = /^mina_auth_requests_total\{route="([^"]*)",code="(-?\d+)"\} (\d+(?:\.\d+)?)$/gm;
  for (const match of metrics.matchAll(line)) {
    if (match[1] !== EXCHANGE_ROUTE) continue;
    if (match[2] === "0") logins += Number(match[3]);
    else failures += Number(match[3]);
  }
  return { logins, failures };
}
