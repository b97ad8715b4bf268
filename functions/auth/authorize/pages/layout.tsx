// The frame of every sign-in page: readable without scripts, one column, visible focus.
import type { Child } from 'hono/jsx';
import { textOn, type PageBrand } from '../../core/branding.js';

const CSS = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f5f7;color:#1b1d21}
main{max-width:26rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;font-weight:600;margin:1rem 0 .25rem}
input[type=text],input[type=password],input[type=email]{width:100%;padding:.6rem;border:1px solid #8a8f98;border-radius:6px;font:inherit}
button{margin-top:1.25rem;padding:.65rem 1.2rem;border:0;border-radius:6px;font:inherit;font-weight:600;background:#1f5fd1;color:#fff;cursor:pointer}
button.secondary{background:#e4e6ea;color:#1b1d21;margin-left:.5rem}
:focus-visible{outline:3px solid #f0a500;outline-offset:2px}
.alert{padding:.75rem;border-radius:6px;background:#fdecea;color:#8a1c12;margin-bottom:1rem}
.muted{color:#5a606b;font-size:.9rem}ul{padding-left:1.2rem}
.logo{display:block;max-height:48px;max-width:100%;margin:0 0 1rem}
`;

/** The brand's colours as CSS (values are #rrggbb, checked when they were set). */
function brandCss(b: PageBrand | undefined): string {
  let css = '';
  if (b?.primary) css += `button:not(.secondary){background:${b.primary};color:${textOn(b.primary)}}`;
  if (b?.background) css += `body{background:${b.background}}`;
  return css;
}

export function Layout(props: { title: string; brand?: PageBrand | undefined; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{props.title}</title>
        <style>{CSS + brandCss(props.brand)}</style>
      </head>
      <body>
        <main>
          {props.brand?.logoUrl ? <img class="logo" src={props.brand.logoUrl} alt={props.brand.name} /> : null}
          {props.children}
        </main>
      </body>
    </html>
  );
}
