import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BREACH_FIXTURE } from '../testing/breach-fixture.js';
import { BreachListError, openBreachList } from './breached-passwords.js';
import { createPasswordPolicy, passwordProblem } from './password-policy.js';

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex').toUpperCase();

describe('breach list (Pwned Passwords file, SHA-1 prefix/suffix ranges)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zk-breach-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the fixture passwords (CRLF lines, neighbours in the same range) and nothing else', async () => {
    const list = await openBreachList(BREACH_FIXTURE);
    for (const p of ['password1234', 'qwertyuiop123', 'correct horse battery staple', 'iloveyou2024!', 'letmein-please']) assert.equal(await list.isBreached(p), true, p);
    for (const p of ['password12345', 'a fresh one of my own', '', 'Password1234']) assert.equal(await list.isBreached(p), false, p);
  });

  it('bisects a large sorted file: every listed hash is found, unlisted ones are not', async () => {
    const known = Array.from({ length: 40 }, (_, i) => `known-${i}-${randomBytes(4).toString('hex')}`);
    const hashes = new Set(known.map(sha1));
    while (hashes.size < 30_000) hashes.add(randomBytes(20).toString('hex').toUpperCase());
    const path = join(dir, 'large.txt');
    await writeFile(path, [...hashes].sort().map((h, i) => `${h}:${(i % 97) + 1}`).join('\n'));
    const list = await openBreachList(path);
    for (const p of known) assert.equal(await list.isBreached(p), true, p);
    for (let i = 0; i < 40; i++) assert.equal(await list.isBreached(`unknown-${i}`), false);
  });

  it('handles the first and last ranges and an empty file', async () => {
    const first = sha1('first');
    const last = sha1('last');
    const path = join(dir, 'edges.txt');
    await writeFile(path, [first, last].sort().map((h) => `${h}:1`).join('\n') + '\n');
    const list = await openBreachList(path);
    assert.equal(await list.isBreached('first'), true);
    assert.equal(await list.isBreached('last'), true);
    const empty = join(dir, 'empty.txt');
    await writeFile(empty, '');
    assert.equal(await (await openBreachList(empty)).isBreached('first'), false);
  });

  it('refuses a missing path or a directory at open, and a file that is not the format at check', async () => {
    await assert.rejects(openBreachList(join(dir, 'missing.txt')), { code: 'ENOENT' });
    await assert.rejects(openBreachList(dir), BreachListError);
    const bad = join(dir, 'bad.txt');
    const prefix = sha1('x').slice(0, 5);
    await writeFile(bad, `${prefix}not-a-hash:1\n`);
    await assert.rejects((await openBreachList(bad)).isBreached('x'), BreachListError);
  });
});

describe('password policy (NIST SP 800-63B §5.1.1.2)', () => {
  it('asks for length only, and not the username', () => {
    assert.equal(passwordProblem('correct horse', 'rita'), undefined);
    assert.match(passwordProblem('ninechars', 'rita')!, /at least 10/);
    assert.match(passwordProblem('Rita-Rita-Rita', 'rita-rita-rita')!, /username/);
    assert.equal(passwordProblem('twelve chars', 'rita', 12), undefined);
    assert.match(passwordProblem('eleven char', 'rita', 12)!, /at least 12/);
  });

  it('refuses a breached password that meets the length, and takes no composition rule', async () => {
    const policy = createPasswordPolicy({ breachList: await openBreachList(BREACH_FIXTURE) });
    assert.match((await policy.problem('password1234', 'rita'))!, /data breaches/);
    assert.equal(await policy.problem('alllowercaseletters', 'rita'), undefined);
    assert.match((await policy.problem('short', 'rita'))!, /at least 10/);
    assert.equal(await createPasswordPolicy().problem('password1234', 'rita'), undefined, 'without a list only the length counts');
  });
});
