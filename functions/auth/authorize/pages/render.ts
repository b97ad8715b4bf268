// Renders a server-side page (synchronous hono/jsx components only) to an HTML document.
export function renderPage(node: unknown): string {
  if (node instanceof Promise) throw new TypeError('pages must be synchronous components');
  return '<!DOCTYPE html>' + String(node);
}
