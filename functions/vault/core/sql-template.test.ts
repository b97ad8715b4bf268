// Statement templates: each placeholder quoted by PostgreSQL's rules for where it stands, so no
// value can end its quoted run; unknown placeholders and dollar-quoted bodies refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VaultError } from './errors.js';
import { formatExpiration, renderStatement, statementsOf } from './sql-template.js';

const hostile = `x"; DROP TABLE t; --'\\`;

describe('renderStatement', () => {
  it("fills Vault's default creation statement", () => {
    const out = renderStatement(`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`, {
      name: 'v-root-ro-abc-1',
      password: 'A1a-pw',
      expiration: '2026-12-07 05:00:00+0000',
    });
    assert.equal(out, `CREATE ROLE "v-root-ro-abc-1" WITH LOGIN PASSWORD 'A1a-pw' VALID UNTIL '2026-12-07 05:00:00+0000';`);
  });

  it('doubles the quote that would end the run the value stands in', () => {
    assert.equal(renderStatement('ALTER ROLE "{{name}}"', { name: hostile }), `ALTER ROLE "x""; DROP TABLE t; --'\\"`);
    assert.equal(renderStatement("PASSWORD '{{password}}'", { password: hostile }), `PASSWORD 'x"; DROP TABLE t; --''\\'`);
    // In an escape string a backslash escapes: it is doubled too.
    assert.equal(renderStatement("PASSWORD E'{{password}}'", { password: hostile }), `PASSWORD E'x"; DROP TABLE t; --''\\\\'`);
  });

  it('quotes a bare placeholder whole: identifiers for names, literals for the rest', () => {
    assert.equal(renderStatement('DROP ROLE {{name}}; SELECT {{password}}', { name: 'a"b', password: "it's" }), `DROP ROLE "a""b"; SELECT 'it''s'`);
  });

  it('tells doubled quotes inside a literal from its end', () => {
    assert.equal(renderStatement(`COMMENT ON ROLE "{{name}}" IS 'it''s {{name}}'`, { name: "o'k" }), `COMMENT ON ROLE "o'k" IS 'it''s o''k'`);
  });

  it('leaves comments alone and refuses what it cannot quote safely', () => {
    assert.equal(renderStatement('-- {{name}}\nSELECT 1', {}), '-- {{name}}\nSELECT 1');
    const refused = (s: string) => assert.throws(() => renderStatement(s, { name: 'n' }), (e) => e instanceof VaultError && e.status === 400);
    refused('SELECT {{nmae}}');
    refused("DO $$ BEGIN EXECUTE 'DROP ROLE {{name}}'; END $$");
    refused("SELECT '{{name}}");
    refused('SELECT {{name');
    assert.throws(() => renderStatement('SELECT {{name}}', { name: 'a\u0000b' }), VaultError);
  });

  it('passes dollar-quoted bodies without placeholders through', () => {
    assert.equal(renderStatement('DO $body$ BEGIN NULL; END $body$; DROP ROLE "{{name}}"', { name: 'n' }), 'DO $body$ BEGIN NULL; END $body$; DROP ROLE "n"');
  });
});

describe('statementsOf and formatExpiration', () => {
  it('takes a string or a list, drops empty entries, refuses other types', () => {
    assert.deepEqual(statementsOf('SELECT 1', 's'), ['SELECT 1']);
    assert.deepEqual(statementsOf(['SELECT 1', ' ', 'SELECT 2'], 's'), ['SELECT 1', 'SELECT 2']);
    assert.equal(statementsOf(undefined, 's'), undefined);
    assert.throws(() => statementsOf([1], 's'), VaultError);
  });

  it("formats {{expiration}} as Vault does (Go's 2006-01-02 15:04:05-0700, UTC)", () => {
    assert.equal(formatExpiration(new Date('2026-12-07T05:06:07.891Z')), '2026-12-07 05:06:07+0000');
  });
});
