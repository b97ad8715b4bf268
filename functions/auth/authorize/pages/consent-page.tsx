// The consent page for third-party clients: what the application asks for, allow or deny.
import type { DescribedDetail } from '../authorization-detail-words.js';
import { Layout } from './layout.js';

const DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are',
  profile: 'See your name and username',
  email: 'See your email address',
  groups: 'See the groups you belong to',
  offline_access: 'Stay signed in when you are away',
};

interface ConsentPageProps {
  action: string;
  interaction: string;
  csrf: string;
  clientName: string;
  username: string;
  scopes: string[];
  /** RFC 9396 authorization details, each in words (authorization-detail-words.ts). */
  details: readonly DescribedDetail[];
}

export function ConsentPage(p: ConsentPageProps) {
  return (
    <Layout title={`Allow ${p.clientName}?`}>
      <h1>Allow {p.clientName}?</h1>
      <p class="muted">Signed in as {p.username}</p>
      <p>{p.clientName} asks to:</p>
      <ul>
        {p.scopes.map((s) => (
          <li>{DESCRIPTIONS[s] ?? `Use "${s}"`}</li>
        ))}
        {p.details.map((d) => (
          <li>
            Act on your behalf for: {d.type}
            {d.lines.length > 0 && (
              <ul>
                {d.lines.map((l) => (
                  <li>
                    {l.label}: {l.value}
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
      <form method="post" action={p.action}>
        <input type="hidden" name="interaction" value={p.interaction} />
        <input type="hidden" name="csrf" value={p.csrf} />
        <button type="submit" name="decision" value="allow">
          Allow
        </button>
        <button type="submit" name="decision" value="deny" class="secondary">
          Deny
        </button>
      </form>
    </Layout>
  );
}
