import { useState } from "preact/hooks";
import { ApiError, adminToken, send } from "../api.ts";
import { ErrorNote, Field } from "../components.tsx";

/** Takes the admin token; keeps it in sessionStorage once the server accepts it. */
export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await send<{ code?: number; msg?: string }>("GET", "/admin/v1/overview", {
        bearer: token.trim(),
      });
      if (answer.status >= 400)
        throw new ApiError(answer.body.code ?? answer.status, answer.body.msg ?? "", answer.status);
      adminToken.set(token.trim());
      setToken("");
      onSignedIn();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title" tabIndex={-1}>
        mina-auth console
      </h1>
      <p>
        Sign in with the server's admin token: the one <code>npm start</code> printed, or{" "}
        <code>MINA_AUTH_ADMIN_TOKEN</code>. It stays in this tab only and is sent only to this server.
      </p>
      <form onSubmit={submit}>
        <Field label="Admin token">
          <input
            type="password"
            name="admin-token"
            autoComplete="current-password"
            required
            value={token}
            onInput={(e) => setToken(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" disabled={busy || token.trim() === ""}>
          Sign in
        </button>
      </form>
      <ErrorNote error={error} />
    </main>
  );
}
