// samlify as a test peer, with its schema validator (xmllint compiled to WebAssembly, the SAML 2.0
// XSDs). Plain JavaScript behind a small declaration: samlify's own types pull the DOM library
// into the whole program.
import * as samlify from 'samlify';
import { validate } from '@authenio/samlify-xmllint-wasm';

samlify.setSchemaValidator({ validate });

export const ServiceProvider = samlify.ServiceProvider;
export const IdentityProvider = samlify.IdentityProvider;
