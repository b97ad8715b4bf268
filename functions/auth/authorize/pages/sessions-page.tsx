// The signed-in user's devices: every live session with where and when it was used, and a
// form to sign each one out.
import type { Session } from '../../core/schema.js';
import { Layout } from './layout.js';

interface SessionsPageProps {
  action: string;
  csrf: string;
  username: string;
  current: string;
  sessions: Session[];
  notice?: string | undefined;
}

const when = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

export function SessionsPage(p: SessionsPageProps) {
  return (
    <Layout title="Your sessions">
      <h1>Your sessions</h1>
      <p class="muted">Signed in as {p.username}</p>
      {p.notice ? (
        <p role="status" class="muted">
          {p.notice}
        </p>
      ) : null}
      <ul>
        {p.sessions.map((s) => (
          <li>
            <strong>{s.userAgent ?? 'Unknown device'}</strong>
            {s.id === p.current ? ' (this device)' : ''}
            <br />
            <span class="muted">
              from {s.ip ?? 'unknown address'}, signed in {when(s.createdAt)}
              {s.authenticator ? ` with ${s.authenticator}` : ''}, last seen {when(s.lastSeenAt)}
            </span>
            <form method="post" action={p.action}>
              <input type="hidden" name="csrf" value={p.csrf} />
              <input type="hidden" name="session" value={s.id} />
              <button type="submit" class="secondary" aria-label={`Sign out ${s.userAgent ?? 'this session'}`}>
                Sign out
              </button>
            </form>
          </li>
        ))}
      </ul>
      {p.sessions.length > 1 ? (
        <form method="post" action={p.action}>
          <input type="hidden" name="csrf" value={p.csrf} />
          <input type="hidden" name="op" value="others" />
          <button type="submit">Sign out all other devices</button>
        </form>
      ) : null}
    </Layout>
  );
}
