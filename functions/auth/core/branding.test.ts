import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { textOn } from './branding.js';

describe('branding text colour (WCAG 2.2 relative luminance)', () => {
  it('puts white on dark colours and black on light ones', () => {
    assert.equal(textOn('#000000'), '#ffffff');
    assert.equal(textOn('#1f5fd1'), '#ffffff');
    assert.equal(textOn('#ffffff'), '#000000');
    assert.equal(textOn('#FFCC00'), '#000000');
  });

  it('refuses anything but #rrggbb', () => {
    assert.throws(() => textOn('red'), TypeError);
    assert.throws(() => textOn('#fff'), TypeError);
  });
});
