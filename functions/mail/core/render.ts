// Template rendering: `{{name}}` placeholders, HTML-escaped in the HTML part; `{{{name}}}` inserts
// raw HTML on purpose. A text part is generated from the HTML when the template has none.
import { MailError } from './errors.js';
import type { TemplateInput } from './templates.js';

const PLACEHOLDER = /\{\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}\}|\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/** The variables a template text uses. */
function variablesOf(text: string | null | undefined): string[] {
  return text ? [...text.matchAll(PLACEHOLDER)].map((m) => (m[1] ?? m[2])!) : [];
}

function fill(text: string, vars: Readonly<Record<string, string>>, escape: (s: string) => string): string {
  return text.replace(PLACEHOLDER, (_, raw: string | undefined, escaped: string | undefined) => (raw !== undefined ? vars[raw]! : escape(vars[escaped!]!)));
}

/** A plain-text rendering of HTML for the text part: tags dropped, breaks kept, entities decoded. */
function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|h[1-6]|li|tr)>/gi, '\n')
    .replace(/<a\s[^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, '$2 ($1)')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&nbsp;/g, ' ').replace(/&amp;/g, '&')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

interface Rendered {
  subject: string;
  text: string;
  html?: string;
}

/** Renders a template; every variable it uses must be given (MailError `missing_variables`). */
export function renderTemplate(t: TemplateInput, vars: Readonly<Record<string, string>>): Rendered {
  const used = [...variablesOf(t.subject), ...variablesOf(t.text), ...variablesOf(t.html)];
  const missing = [...new Set(used.filter((v) => !Object.hasOwn(vars, v)))];
  if (missing.length > 0) throw new MailError('missing_variables', `The template needs variables that were not given: ${missing.join(', ')}.`, { missing });
  const subject = fill(t.subject, vars, (s) => s);
  // A variable must not smuggle a line break into the Subject header.
  if (/[\r\n]/.test(subject)) throw new MailError('invalid_template', 'A variable used in the subject contains a line break.');
  const html = t.html ? fill(t.html, vars, escapeHtml) : undefined;
  const text = t.text ? fill(t.text, vars, (s) => s) : html ? htmlToText(html) : '';
  return html === undefined ? { subject, text } : { subject, text, html };
}
