// The path of the tiny Pwned Passwords fixture (five breached passwords, CRLF lines as HIBP writes them).
import { fileURLToPath } from 'node:url';

export const BREACH_FIXTURE = fileURLToPath(new URL('./breached-passwords.txt', import.meta.url));
