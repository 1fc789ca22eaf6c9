/**
 * An agent's own key (`aecl keys generate --agent NAME`): the client signs a short JWT with
 * it for every request (EdDSA, at most five minutes, a fresh `jti`), so a session of hours
 * never meets an expiry, and revoking the key (`aecl token revoke --agent-key`) stops the
 * agent at its next request. Signing uses WebCrypto's Ed25519 (Node 20 or later).
 */

/** How long each token lives, in seconds (the server accepts at most 300). */
export const AGENT_TOKEN_SECONDS = 60;

/** RFC 8410's PKCS #8 prefix of an Ed25519 secret key: the seed follows. */
const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function jsonPart(value: unknown): string {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

/**
 * The secret key of an agent, from the text `aecl keys generate --agent` writes
 * (`PRIVATE+KEY+NAME+HASH+BASE64`). `JSON.stringify` and `console.log` never show the key.
 */
export class AgentKey {
  readonly name: string;
  /** The `kid` of its tokens: what `aecl token revoke --agent-key` takes. */
  readonly keyId: string;
  readonly #pkcs8: Uint8Array;
  #key: ReturnType<typeof crypto.subtle.importKey> | undefined;

  constructor(text: string) {
    const trimmed = text.trim();
    const parts = trimmed.split("+");
    if (parts.length < 5 || parts[0] !== "PRIVATE" || parts[1] !== "KEY") {
      throw new TypeError("aecl: not an agent's secret key (`aecl keys generate --agent NAME`)");
    }
    const [, , name, hash] = parts;
    const encoded = parts.slice(4).join("+");
    let raw: Uint8Array;
    try {
      raw = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
    } catch {
      throw new TypeError("aecl: the agent key is not base64");
    }
    if (raw.length !== 33 || raw[0] !== 1 || !/^[0-9a-fA-F]{8}$/.test(hash ?? "") || !name) {
      throw new TypeError("aecl: not an Ed25519 secret key of aecl's text form");
    }
    this.name = name;
    this.keyId = (hash as string).toLowerCase();
    this.#pkcs8 = new Uint8Array([...PKCS8_PREFIX, ...raw.subarray(1)]);
  }

  /** A fresh token for `agent` (default: the key's name). */
  async token(agent?: string, nowSeconds?: number): Promise<string> {
    this.#key ??= crypto.subtle.importKey("pkcs8", this.#pkcs8, { name: "Ed25519" }, false, ["sign"]);
    const subject = agent ?? this.name;
    const issued = Math.floor(nowSeconds ?? Date.now() / 1000);
    const jti = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
    const signingInput =
      jsonPart({ alg: "EdDSA", typ: "JWT", kid: this.keyId }) +
      "." +
      jsonPart({ iss: subject, sub: subject, aud: "aecl", iat: issued, nbf: issued, exp: issued + AGENT_TOKEN_SECONDS, jti, role: "agent" });
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, await this.#key, new TextEncoder().encode(signingInput));
    return `${signingInput}.${base64url(new Uint8Array(signature))}`;
  }

  toJSON(): Record<string, string> {
    return { name: this.name, keyId: this.keyId };
  }
}
