/**
 * A typed error: throw it anywhere in a handler or middleware and the host renders it in
 * the configured error format (by default `{"error": {"code", "message", "details",
 * "request-id"}}`) with this status.
 *
 * ```ts
 * throw new HttpError(422, "invalid-todo", "title is required", [{ field: "title" }]);
 * ```
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Any JSON-serializable value (a list of invalid fields, say). */
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "HttpError";
  }

  /** 400 `bad-request`. */
  static badRequest(message: string, details?: unknown): HttpError {
    return new HttpError(400, "bad-request", message, details);
  }
  /** 401 `unauthorized`. */
  static unauthorized(message: string, details?: unknown): HttpError {
    return new HttpError(401, "unauthorized", message, details);
  }
  /** 403 `forbidden`. */
  static forbidden(message: string, details?: unknown): HttpError {
    return new HttpError(403, "forbidden", message, details);
  }
  /** 404 `not-found`. */
  static notFound(message: string, details?: unknown): HttpError {
    return new HttpError(404, "not-found", message, details);
  }
  /** 409 `conflict`. */
  static conflict(message: string, details?: unknown): HttpError {
    return new HttpError(409, "conflict", message, details);
  }
  /** 422 `unprocessable`. */
  static unprocessable(message: string, details?: unknown): HttpError {
    return new HttpError(422, "unprocessable", message, details);
  }
  /** 500 `internal`. */
  static internal(message = "internal error", details?: unknown): HttpError {
    return new HttpError(500, "internal", message, details);
  }

  /** `details` as JSON text, or undefined when there are none or they cannot be encoded
   * (the host would drop invalid details anyway). */
  detailsJson(): string | undefined {
    if (this.details === undefined) return undefined;
    try {
      return JSON.stringify(this.details);
    } catch {
      return undefined;
    }
  }
}
