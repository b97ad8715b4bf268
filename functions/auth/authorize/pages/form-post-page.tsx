// The auto-submitting form of response_mode=form_post.jwt (OAuth 2.0 Form Post Response Mode §2
// with JARM §2.3.4): one hidden `response` field, a button for user agents without scripts.
import { Layout } from './layout.js';

/** The only script on the page; the CSP allows it by its hash. */
export const FORM_POST_SCRIPT = 'document.forms[0].submit()';

export function FormPostPage(props: { action: string; response: string }) {
  return (
    <Layout title="Returning to the application">
      <form method="post" action={props.action}>
        <input type="hidden" name="response" value={props.response} />
        <noscript>
          <button type="submit">Continue</button>
        </noscript>
      </form>
      <script>{FORM_POST_SCRIPT}</script>
    </Layout>
  );
}
