// The page shown when a request cannot go back to the application (never any internals).
import { Layout } from './layout.js';

export function ErrorPage(props: { title: string; message: string }) {
  return (
    <Layout title={props.title}>
      <h1>{props.title}</h1>
      <p role="alert">{props.message}</p>
      <p class="muted">Go back to the application and start again. If this keeps happening, contact its administrator.</p>
    </Layout>
  );
}
