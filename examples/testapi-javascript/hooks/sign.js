// Signs every request: X-Timestamp and X-Signature, the hex HMAC-SHA256 of
// "{timestamp}.{METHOD}.{path}.{body}" with the signing secret (a credential declared for
// this hook in connector.yaml: no other credential is visible here).
export default function sign(ctx) {
  const request = ctx.request;
  const timestamp = String(ctx.utils.formatDate(undefined, 'unix'));
  const body = request.rawBody ?? '';
  const message = `${timestamp}.${request.method}.${request.path}.${body}`;
  request.headers['X-Timestamp'] = ctx.markPublic(timestamp);
  // Computed from a secret: registered as one, so logs and test results show [REDACTED].
  request.headers['X-Signature'] = ctx.utils.hmacSha256(ctx.credentials.signing_secret, message);
  ctx.log.debug('signed', request.method, request.path);
}
