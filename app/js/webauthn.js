// Bridge between the console's wasm and the browser's WebAuthn API (W3C WebAuthn L3 §5.1).
// The server sends options as JSON with binary fields in base64url; the browser wants
// ArrayBuffers. Responses go back as JSON in the same encoding.

function b64urlToBuf(s) {
  const pad = '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob((s + pad).replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function bufToB64url(buf) {
  const bytes = new Uint8Array(buf);
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function describe(err) {
  if (err && err.name === 'NotAllowedError') {
    return 'The passkey prompt was cancelled or timed out. Try again.';
  }
  if (err && err.name === 'InvalidStateError') {
    return 'This authenticator already holds a passkey for this account.';
  }
  return 'Your browser could not use a passkey: ' + (err && err.message ? err.message : String(err));
}

export async function createPasskey(optionsJson) {
  if (!window.PublicKeyCredential) throw new Error('This browser does not support passkeys.');
  const { publicKey } = JSON.parse(optionsJson);
  publicKey.challenge = b64urlToBuf(publicKey.challenge);
  publicKey.user.id = b64urlToBuf(publicKey.user.id);
  for (const c of publicKey.excludeCredentials || []) c.id = b64urlToBuf(c.id);
  let cred;
  try {
    cred = await navigator.credentials.create({ publicKey });
  } catch (e) {
    throw new Error(describe(e));
  }
  return JSON.stringify({
    id: cred.id,
    rawId: bufToB64url(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: bufToB64url(cred.response.attestationObject),
      clientDataJSON: bufToB64url(cred.response.clientDataJSON),
    },
    extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  });
}

export async function getPasskey(optionsJson) {
  if (!window.PublicKeyCredential) throw new Error('This browser does not support passkeys.');
  const { publicKey } = JSON.parse(optionsJson);
  publicKey.challenge = b64urlToBuf(publicKey.challenge);
  for (const c of publicKey.allowCredentials || []) c.id = b64urlToBuf(c.id);
  let cred;
  try {
    cred = await navigator.credentials.get({ publicKey });
  } catch (e) {
    throw new Error(describe(e));
  }
  const r = cred.response;
  return JSON.stringify({
    id: cred.id,
    rawId: bufToB64url(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: bufToB64url(r.authenticatorData),
      clientDataJSON: bufToB64url(r.clientDataJSON),
      signature: bufToB64url(r.signature),
      userHandle: r.userHandle ? bufToB64url(r.userHandle) : null,
    },
    extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  });
}

export function goTo(path) {
  window.location.assign(path);
}
