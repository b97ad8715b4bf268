// Built-in templates for ZenoAuth's account e-mails, in English and German. A tenant's own template
// of the same name (PUT /templates/{name}/{locale}) takes precedence; these are version 0.
// Every variable is required: a send that lacks one is refused (422 missing_variables).
import type { Template } from './schema.js';

interface Builtin {
  /** The variables the template uses (documented in docs/mail.md). */
  variables: readonly string[];
  locales: Record<string, { subject: string; html: string }>;
}

const BUILTINS: Record<string, Builtin> = {
  'zenoauth.verify-email': {
    variables: ['name', 'link', 'expiresInMinutes'],
    locales: {
      en: {
        subject: 'Confirm your e-mail address',
        html: '<p>Hello {{name}},</p><p>please confirm your e-mail address: <a href="{{link}}">confirm</a>.</p><p>The link is valid for {{expiresInMinutes}} minutes. If you did not create an account, ignore this message.</p>',
      },
      de: {
        subject: 'Bestätigen Sie Ihre E-Mail-Adresse',
        html: '<p>Hallo {{name}},</p><p>bitte bestätigen Sie Ihre E-Mail-Adresse: <a href="{{link}}">bestätigen</a>.</p><p>Der Link ist {{expiresInMinutes}} Minuten gültig. Wenn Sie kein Konto angelegt haben, ignorieren Sie diese Nachricht.</p>',
      },
    },
  },
  'zenoauth.password-reset': {
    variables: ['name', 'link', 'expiresInMinutes'],
    locales: {
      en: {
        subject: 'Reset your password',
        html: '<p>Hello {{name}},</p><p>someone asked to reset the password of your account. To choose a new one: <a href="{{link}}">reset password</a>.</p><p>The link is valid for {{expiresInMinutes}} minutes and works once. If it was not you, ignore this message: your password stays as it is.</p>',
      },
      de: {
        subject: 'Passwort zurücksetzen',
        html: '<p>Hallo {{name}},</p><p>jemand möchte das Passwort Ihres Kontos zurücksetzen. Ein neues wählen: <a href="{{link}}">Passwort zurücksetzen</a>.</p><p>Der Link ist {{expiresInMinutes}} Minuten gültig und nur einmal verwendbar. Waren Sie es nicht, ignorieren Sie diese Nachricht: Ihr Passwort bleibt unverändert.</p>',
      },
    },
  },
  'zenoauth.email-changed': {
    variables: ['name', 'newEmail'],
    locales: {
      en: {
        subject: 'The e-mail address of your account changed',
        html: '<p>Hello {{name}},</p><p>the e-mail address of your account was changed to {{newEmail}}. This address no longer receives its messages.</p><p>If this was you, nothing needs to be done. If not, your account may be in someone else\'s hands: contact your administrator.</p>',
      },
      de: {
        subject: 'Die E-Mail-Adresse Ihres Kontos wurde geändert',
        html: '<p>Hallo {{name}},</p><p>die E-Mail-Adresse Ihres Kontos wurde in {{newEmail}} geändert. Diese Adresse erhält seine Nachrichten nicht mehr.</p><p>Waren Sie das, ist nichts zu tun. Wenn nicht, ist Ihr Konto womöglich in fremden Händen: wenden Sie sich an Ihre Administration.</p>',
      },
    },
  },
  'zenoauth.new-device': {
    variables: ['name', 'device', 'ip', 'time', 'link'],
    locales: {
      en: {
        subject: 'New sign-in to your account',
        html: '<p>Hello {{name}},</p><p>your account was signed in to from a new device:</p><ul><li>Device: {{device}}</li><li>IP address: {{ip}}</li><li>Time: {{time}}</li></ul><p>If this was you, nothing needs to be done. If not, <a href="{{link}}">review your sessions</a> and change your password.</p>',
      },
      de: {
        subject: 'Neue Anmeldung bei Ihrem Konto',
        html: '<p>Hallo {{name}},</p><p>bei Ihrem Konto hat sich ein neues Gerät angemeldet:</p><ul><li>Gerät: {{device}}</li><li>IP-Adresse: {{ip}}</li><li>Zeit: {{time}}</li></ul><p>Waren Sie das, ist nichts zu tun. Wenn nicht, <a href="{{link}}">prüfen Sie Ihre Sitzungen</a> und ändern Sie Ihr Passwort.</p>',
      },
    },
  },
};

/** The built-in template `name` in the best of the given locales (already in fallback order), as version 0. */
export function builtinTemplate(name: string, locales: readonly string[]): Template | undefined {
  const b = BUILTINS[name];
  if (!b) return undefined;
  const locale = locales.find((l) => b.locales[l] !== undefined);
  if (locale === undefined) return undefined;
  const t = b.locales[locale]!;
  // No text part: the renderer generates it from the HTML.
  return { tenant: '*', name, locale, version: 0, subject: t.subject, text: null, html: t.html, createdAt: new Date(0) };
}

/** Every locale of a built-in template, for listing. */
export function builtinVersions(name: string): Template[] {
  const b = BUILTINS[name];
  return b ? Object.keys(b.locales).map((l) => builtinTemplate(name, [l])!) : [];
}
