/**
 * The message of an error body, whichever documented form it has: Baseten's
 * `{"error": "<message>"}` or the OpenAI-style `{"error": {"message": ...}}`. Tests that
 * judge what an error says, not its form, read it through this.
 */
export function errorMessage(body: unknown): string | undefined {
  const error = (body as { error?: unknown } | null | undefined)?.error;
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

interface ResponseLike {
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

const header = (res: ResponseLike, name: string): string | undefined => {
  const v = res.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? undefined : decodeURIComponent(s);
};

/**
 * What an error response of the mock says, whatever its form: the message from the body,
 * and the machine-readable code, the offending field and the detail from the
 * `X-Fgw-Error-Code`, `X-Fgw-Error-Param` and `X-Fgw-Error-Detail` headers, which the
 * mock sends with every error in both forms (AMBIGUITIES.md #9). `param` is null when
 * there is none, as in the OpenAI form's body.
 */
export function errorOf(res: ResponseLike): { message: string | undefined; code: string | undefined; param: string | null; detail: string | undefined } {
  return {
    message: errorMessage(res.body),
    code: header(res, 'x-fgw-error-code'),
    param: header(res, 'x-fgw-error-param') ?? null,
    detail: header(res, 'x-fgw-error-detail'),
  };
}
