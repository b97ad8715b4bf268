// The tunnel's handshake, shared by agent and edge: the agent asks to upgrade one HTTP/1.1
// request over TLS to the tunnel protocol, with its token and the hostnames it serves; a 101
// answer turns the connection into one Yamux session (agent the client side, edge the server
// side, which opens a stream per user request).
// @see https://www.rfc-editor.org/rfc/rfc9110#section-7.8 (Upgrade)

/** The protocol token of the Upgrade field. */
export const TUNNEL_PROTOCOL = 'zeno-tunnel/1';
/** The request target of the handshake. */
export const TUNNEL_PATH = '/.zeno/tunnel';
/** The field listing the hostnames the agent serves, comma-separated. */
export const HOSTNAMES_FIELD = 'zeno-tunnel-hostnames';
