/// The OpenAPI 3.1 description of the native API, served at `/openapi.json`; docs/API.md is the human version.
/// `OpsTests` keeps its paths and operations in step with the registered routes.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "OTPGate",
    "version": "1.0.0",
    "description": "The native OTPGate API: send one-time codes by SMS or email, check them, and prove the result with a signed token. Errors are RFC 9457 problems (application/problem+json) with a stable `code`; every response carries X-Request-Id. Request bodies are JSON objects of at most 64 KiB; unknown fields are refused. An unknown path, or a method a path does not serve, answers 404 `not_found`. Human reference: docs/API.md."
  },
  "servers": [{"url": "/"}],
  "tags": [
    {"name": "verifications"},
    {"name": "tokens"},
    {"name": "ops", "description": "Unauthenticated operational endpoints."}
  ],
  "paths": {
    "/v1/verifications": {
      "post": {
        "operationId": "startVerification",
        "summary": "Start a verification",
        "description": "Creates a verification and queues one code for delivery.",
        "tags": ["verifications"],
        "security": [{"apiKey": []}],
        "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
        "requestBody": {
          "required": true,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StartVerificationRequest"}}}
        },
        "responses": {
          "201": {
            "description": "Created (or replayed for a repeated Idempotency-Key).",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Verification"}}},
            "headers": {
              "Location": {"$ref": "#/components/headers/Location"},
              "Idempotent-Replayed": {"$ref": "#/components/headers/IdempotentReplayed"}
            }
          },
          "400": {"$ref": "#/components/responses/MalformedJSON"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "413": {"$ref": "#/components/responses/PayloadTooLarge"},
          "422": {
            "description": "`invalid_field` or `unknown_field` (with `field`), `invalid_header` (`field` is `Idempotency-Key`), or `idempotency_key_reused`.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "429": {
            "description": "`rate_limited` (scope `destination`: too many starts to this destination; scope `api_key`), or `destination_locked` after too many failed checks.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
          },
          "500": {"$ref": "#/components/responses/Internal"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/v1/verifications/{id}": {
      "get": {
        "operationId": "getVerification",
        "summary": "Read a verification",
        "description": "Returns the verification's current state.",
        "tags": ["verifications"],
        "security": [{"apiKey": []}],
        "parameters": [{"$ref": "#/components/parameters/VerificationId"}],
        "responses": {
          "200": {
            "description": "The verification.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Verification"}}}
          },
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "429": {"$ref": "#/components/responses/KeyRateLimited"},
          "500": {"$ref": "#/components/responses/Internal"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/v1/verifications/{id}/check": {
      "post": {
        "operationId": "checkVerification",
        "summary": "Check a code",
        "description": "Compares the code. A wrong code uses one attempt; the right one approves the verification and returns a token.",
        "tags": ["verifications"],
        "security": [{"apiKey": []}],
        "parameters": [{"$ref": "#/components/parameters/VerificationId"}],
        "requestBody": {
          "required": true,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CheckRequest"}}}
        },
        "responses": {
          "200": {
            "description": "Approved.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CheckResponse"}}}
          },
          "400": {"$ref": "#/components/responses/MalformedJSON"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "409": {
            "description": "`already_approved` or `canceled`: the verification is finished.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "410": {
            "description": "`expired`: the code's lifetime has passed; start a new verification.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "413": {"$ref": "#/components/responses/PayloadTooLarge"},
          "422": {
            "description": "`incorrect_code` (with `attempts_remaining`), or `invalid_field` / `unknown_field`.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "429": {
            "description": "`max_attempts_reached` (no attempts left, even for the right code), `destination_locked`, or `rate_limited` (scope `api_key`).",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
          },
          "500": {"$ref": "#/components/responses/Internal"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/v1/verifications/{id}/resend": {
      "post": {
        "operationId": "resendVerification",
        "summary": "Send a new code",
        "description": "Sends a new code (the previous one stops working) with a fresh lifetime; attempts are not reset.",
        "tags": ["verifications"],
        "security": [{"apiKey": []}],
        "parameters": [{"$ref": "#/components/parameters/VerificationId"}],
        "requestBody": {
          "required": false,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResendRequest"}}}
        },
        "responses": {
          "200": {
            "description": "Resent.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Verification"}}}
          },
          "400": {"$ref": "#/components/responses/MalformedJSON"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "409": {
            "description": "`already_approved` or `canceled`: the verification is finished.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "410": {
            "description": "`expired`: the code's lifetime has passed; start a new verification.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "413": {"$ref": "#/components/responses/PayloadTooLarge"},
          "422": {
            "description": "`invalid_field` (including a `channel` other than the verification's) or `unknown_field`.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "429": {
            "description": "`resend_cooldown`, `max_sends_reached`, `max_attempts_reached`, `destination_locked`, or `rate_limited` (scope `api_key`).",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
          },
          "500": {"$ref": "#/components/responses/Internal"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/v1/verifications/{id}/cancel": {
      "post": {
        "operationId": "cancelVerification",
        "summary": "Cancel a verification",
        "description": "Cancels a pending verification (also one whose attempts are spent) and discards any undelivered code.",
        "tags": ["verifications"],
        "security": [{"apiKey": []}],
        "parameters": [{"$ref": "#/components/parameters/VerificationId"}],
        "requestBody": {
          "required": false,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CancelRequest"}}}
        },
        "responses": {
          "200": {
            "description": "Canceled.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Verification"}}}
          },
          "400": {"$ref": "#/components/responses/MalformedJSON"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "409": {
            "description": "`already_approved` or `canceled`: the verification is finished.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "410": {
            "description": "`expired`: the code's lifetime has passed; start a new verification.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "413": {"$ref": "#/components/responses/PayloadTooLarge"},
          "422": {
            "description": "`unknown_field`: the body must be empty or `{}`.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "429": {"$ref": "#/components/responses/KeyRateLimited"},
          "500": {"$ref": "#/components/responses/Internal"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/v1/tokens/verify": {
      "post": {
        "operationId": "verifyToken",
        "summary": "Verify a token",
        "description": "Introspects a token from a check for the calling tenant. An unacceptable token is still a 200, with `valid: false` and a `reason`.",
        "tags": ["tokens"],
        "security": [{"apiKey": []}],
        "requestBody": {
          "required": true,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenVerifyRequest"}}}
        },
        "responses": {
          "200": {
            "description": "The verdict.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenVerifyResponse"}}}
          },
          "400": {"$ref": "#/components/responses/MalformedJSON"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "413": {"$ref": "#/components/responses/PayloadTooLarge"},
          "422": {
            "description": "`invalid_field` or `unknown_field`.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          },
          "429": {"$ref": "#/components/responses/KeyRateLimited"},
          "500": {"$ref": "#/components/responses/Internal"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/healthz": {
      "get": {
        "operationId": "health",
        "summary": "Liveness",
        "description": "Answers while the process serves HTTP; does not touch the database.",
        "tags": ["ops"],
        "security": [],
        "responses": {
          "200": {
            "description": "Alive.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": ["status"],
                  "properties": {"status": {"type": "string", "const": "ok"}}
                }
              }
            }
          }
        }
      }
    },
    "/readyz": {
      "get": {
        "operationId": "readiness",
        "summary": "Readiness",
        "description": "Answers 200 only when the database responds.",
        "tags": ["ops"],
        "security": [],
        "responses": {
          "200": {
            "description": "Ready.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": ["status", "database"],
                  "properties": {
                    "status": {"type": "string", "const": "ready"},
                    "database": {"type": "string", "const": "ok"}
                  }
                }
              }
            }
          },
          "503": {
            "description": "`unavailable`: the database does not answer.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
          }
        }
      }
    },
    "/metrics": {
      "get": {
        "operationId": "metrics",
        "summary": "Prometheus metrics",
        "description": "Prometheus text exposition (otpgate_http_requests_total, otpgate_http_request_duration_seconds, otpgate_verifications_*_total, otpgate_messages_total). Holds no destinations, codes or keys.",
        "tags": ["ops"],
        "security": [],
        "responses": {
          "200": {
            "description": "Metrics.",
            "content": {"text/plain; version=0.0.4; charset=utf-8": {"schema": {"type": "string"}}}
          }
        }
      }
    },
    "/openapi.json": {
      "get": {
        "operationId": "openAPI",
        "summary": "This document",
        "description": "The OpenAPI 3.1 description of the native API.",
        "tags": ["ops"],
        "security": [],
        "responses": {
          "200": {"description": "The document.", "content": {"application/json": {"schema": {"type": "object"}}}}
        }
      }
    },
    "/.well-known/jwks.json": {
      "get": {
        "operationId": "jwks",
        "summary": "Token signing keys",
        "description": "The public ES256 keys that sign verification tokens, for offline verification. Cache-Control: public, max-age=300.",
        "tags": ["ops"],
        "security": [],
        "responses": {
          "200": {
            "description": "The key set.",
            "content": {"application/jwk-set+json": {"schema": {"$ref": "#/components/schemas/JWKS"}}}
          }
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A tenant API key (`otpg_` + 52 base32 characters): `Authorization: Bearer otpg_…`."
      }
    },
    "parameters": {
      "VerificationId": {
        "name": "id",
        "in": "path",
        "required": true,
        "schema": {"type": "string", "pattern": "^vrf_[a-z2-7]{26}$"},
        "description": "A verification id; any other value answers 404."
      },
      "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
        "description": "1 to 255 visible ASCII characters, scoped to the tenant for 24 hours. The same key with a byte-identical body replays the first response without sending a code; with any other body it is refused (422 `idempotency_key_reused`)."
      }
    },
    "headers": {
      "RetryAfter": {
        "description": "Seconds to wait before retrying (present on `resend_cooldown`, `rate_limited` and `destination_locked`).",
        "schema": {"type": "integer", "minimum": 1}
      },
      "Location": {"description": "The new verification: `/v1/verifications/{id}`.", "schema": {"type": "string"}},
      "IdempotentReplayed": {
        "description": "`true` when this response replays an earlier request with the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]}
      }
    },
    "responses": {
      "MalformedJSON": {
        "description": "`malformed_json`: the body is not JSON or not a JSON object.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
      },
      "Unauthorized": {
        "description": "`unauthorized`: the API key is missing, not Bearer, malformed, unknown or revoked.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
      },
      "NotFound": {
        "description": "`not_found`: no verification with this id for this tenant.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
      },
      "PayloadTooLarge": {
        "description": "`payload_too_large`: the body exceeds 64 KiB.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
      },
      "KeyRateLimited": {
        "description": "`rate_limited` (scope `api_key`): the API key exceeded its requests per second.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
      },
      "Internal": {
        "description": "`internal`: an unexpected error.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
      },
      "Unavailable": {
        "description": "`unavailable`: the database is unavailable; retry shortly.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
      }
    },
    "schemas": {
      "Channel": {"type": "string", "enum": ["sms", "email"], "description": "How the code is delivered."},
      "StartVerificationRequest": {
        "type": "object",
        "additionalProperties": false,
        "required": ["to", "channel"],
        "description": "Unknown fields are refused (422 `unknown_field`); a field sent as null counts as absent.",
        "properties": {
          "to": {
            "type": "string",
            "maxLength": 320,
            "description": "sms: E.164 (`+14155550123`), `00` + country code, or a 10-digit Indian number (`98765 43210`, `098765 43210`) which becomes +91; spaces, `-`, `(`, `)`, `.` are ignored; 8 to 15 digits; +91 numbers must have 10 digits starting 6-9. email: one ASCII address of at most 254 bytes; the domain is lowercased."
          },
          "channel": {"$ref": "#/components/schemas/Channel"},
          "purpose": {
            "type": ["string", "null"],
            "pattern": "^[A-Za-z0-9_.:-]{1,64}$",
            "description": "A label for what is being verified (1 to 64 of letters, digits, `_ . : -`). Rendered into the message and copied into the token."
          },
          "code_length": {
            "type": ["integer", "null"],
            "minimum": 4,
            "maximum": 10,
            "default": 6,
            "description": "Digits in the code; the default is the server's OTPGATE_POLICY_CODE_LENGTH."
          },
          "ttl_seconds": {
            "type": ["integer", "null"],
            "minimum": 30,
            "maximum": 600,
            "default": 300,
            "description": "Lifetime of each code; a resend starts a fresh lifetime."
          },
          "max_attempts": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 10,
            "default": 5,
            "description": "Checks allowed for the whole verification; resends do not reset it."
          },
          "locale": {
            "type": ["string", "null"],
            "maxLength": 35,
            "pattern": "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
            "description": "BCP 47 language tag for the message, such as `en` or `hi-IN`."
          },
          "reference": {
            "type": ["string", "null"],
            "maxLength": 128,
            "description": "Your own identifier (no control characters); echoed back and copied into the token."
          },
          "context": {
            "type": ["object", "null"],
            "description": "Any JSON object of at most 2048 bytes (as compact JSON); bound into the token's `context` claim."
          }
        }
      },
      "Verification": {
        "type": "object",
        "required": [
          "id",
          "status",
          "channel",
          "to",
          "created_at",
          "updated_at",
          "expires_at",
          "code_length",
          "attempts_remaining",
          "max_attempts",
          "sends",
          "max_sends",
          "resend_available_at"
        ],
        "properties": {
          "id": {"type": "string", "pattern": "^vrf_[a-z2-7]{26}$"},
          "status": {
            "type": "string",
            "enum": ["pending", "approved", "canceled", "expired", "max_attempts_reached"],
            "description": "`expired` once `expires_at` has passed unapproved; `max_attempts_reached` once a pending verification has no attempts left."
          },
          "channel": {"$ref": "#/components/schemas/Channel"},
          "to": {"type": "string", "description": "The destination, masked: `+91******3210`, `r***@e******.com`."},
          "created_at": {"type": "string", "format": "date-time"},
          "updated_at": {"type": "string", "format": "date-time"},
          "expires_at": {"type": "string", "format": "date-time", "description": "When the current code stops working."},
          "code_length": {"type": "integer", "minimum": 4, "maximum": 10},
          "attempts_remaining": {"type": "integer", "minimum": 0},
          "max_attempts": {"type": "integer", "minimum": 1, "maximum": 10},
          "sends": {"type": "integer", "minimum": 1, "description": "Codes sent so far, the first included."},
          "max_sends": {"type": "integer", "minimum": 1},
          "resend_available_at": {
            "type": "string",
            "format": "date-time",
            "description": "The earliest time a resend is accepted."
          },
          "purpose": {"type": "string"},
          "locale": {"type": "string"},
          "reference": {"type": "string"},
          "context": {"type": "object"}
        }
      },
      "CheckRequest": {
        "type": "object",
        "additionalProperties": false,
        "required": ["code"],
        "properties": {
          "code": {
            "type": "string",
            "pattern": "^[0-9]{4,10}$",
            "description": "The code the user received, as a string of 4 to 10 ASCII digits."
          }
        }
      },
      "CheckResponse": {
        "type": "object",
        "required": ["id", "status", "channel", "to", "token", "token_type", "token_expires_at"],
        "properties": {
          "id": {"type": "string"},
          "status": {"type": "string", "const": "approved"},
          "channel": {"$ref": "#/components/schemas/Channel"},
          "to": {"type": "string", "description": "The destination, masked."},
          "token": {
            "type": "string",
            "description": "An ES256-signed JWT carrying `TokenClaims`; verify it with POST /v1/tokens/verify or against the JWKS."
          },
          "token_type": {"type": "string", "const": "JWT"},
          "token_expires_at": {"type": "string", "format": "date-time"}
        }
      },
      "ResendRequest": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "channel": {
            "anyOf": [{"$ref": "#/components/schemas/Channel"}, {"type": "null"}],
            "description": "Optional; if given it must be the verification's own channel."
          }
        }
      },
      "CancelRequest": {
        "type": "object",
        "additionalProperties": false,
        "maxProperties": 0,
        "description": "No fields: send no body or `{}`."
      },
      "TokenVerifyRequest": {
        "type": "object",
        "additionalProperties": false,
        "required": ["token"],
        "properties": {
          "token": {"type": "string", "maxLength": 8192},
          "consume": {
            "type": ["boolean", "null"],
            "default": false,
            "description": "Accept the token only once across the deployment; later calls answer `already_used`."
          },
          "purpose": {
            "type": ["string", "null"],
            "pattern": "^[A-Za-z0-9_.:-]{1,64}$",
            "description": "If given, the token's `purpose` must be exactly this."
          }
        }
      },
      "TokenVerifyResponse": {
        "oneOf": [
          {
            "type": "object",
            "required": ["valid", "consumed", "claims"],
            "properties": {
              "valid": {"type": "boolean", "const": true},
              "consumed": {
                "type": "boolean",
                "description": "Whether this call consumed the token (`consume` was true)."
              },
              "claims": {"$ref": "#/components/schemas/TokenClaims"}
            }
          },
          {
            "type": "object",
            "required": ["valid", "reason"],
            "properties": {
              "valid": {"type": "boolean", "const": false},
              "reason": {
                "type": "string",
                "enum": [
                  "malformed",
                  "unsupported_algorithm",
                  "unknown_key",
                  "bad_signature",
                  "tenant_mismatch",
                  "expired",
                  "purpose_mismatch",
                  "already_used"
                ]
              }
            }
          }
        ]
      },
      "TokenClaims": {
        "type": "object",
        "required": ["iss", "sub", "tenant_id", "jti", "iat", "exp", "amr"],
        "properties": {
          "iss": {"type": "string", "description": "OTPGATE_ISSUER, default `otpgate`."},
          "sub": {"type": "string", "description": "The verification id."},
          "tenant_id": {"type": "string"},
          "jti": {"type": "string", "description": "Unique token id (`tok_…`), the unit of `consume`."},
          "iat": {"type": "integer", "description": "Issued at, seconds since the epoch."},
          "exp": {"type": "integer", "description": "Expiry, seconds since the epoch (iat + token TTL, default 300 s)."},
          "phone_number": {"type": "string", "description": "E.164; sms verifications only."},
          "phone_number_verified": {"type": "boolean", "const": true},
          "email": {"type": "string", "description": "email verifications only."},
          "email_verified": {"type": "boolean", "const": true},
          "purpose": {"type": "string"},
          "context": {"type": "object"},
          "reference": {"type": "string"},
          "amr": {
            "type": "array",
            "items": {"type": "string"},
            "description": "`[\"otp\", \"sms\"]` or `[\"otp\", \"email\"]`."
          }
        }
      },
      "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail", "code", "request_id"],
        "description": "RFC 9457 problem details, served as application/problem+json.",
        "properties": {
          "type": {"type": "string", "description": "`urn:otpgate:problem:<code>`."},
          "title": {"type": "string"},
          "status": {"type": "integer"},
          "detail": {"type": "string"},
          "code": {
            "type": "string",
            "enum": [
              "malformed_json",
              "unauthorized",
              "not_found",
              "method_not_allowed",
              "already_approved",
              "canceled",
              "expired",
              "payload_too_large",
              "invalid_field",
              "unknown_field",
              "invalid_header",
              "incorrect_code",
              "idempotency_key_reused",
              "max_attempts_reached",
              "max_sends_reached",
              "resend_cooldown",
              "rate_limited",
              "destination_locked",
              "internal",
              "unavailable",
              "http_error"
            ],
            "description": "Stable machine-readable error code."
          },
          "field": {
            "type": "string",
            "description": "The offending field or header (`invalid_field`, `unknown_field`, `invalid_header`)."
          },
          "request_id": {"type": "string", "description": "Same as the X-Request-Id response header."},
          "attempts_remaining": {"type": "integer", "minimum": 0, "description": "`incorrect_code` only."},
          "retry_after": {
            "type": "integer",
            "minimum": 1,
            "description": "Seconds, as in the Retry-After header (`resend_cooldown`, `rate_limited`, `destination_locked`)."
          },
          "scope": {
            "type": "string",
            "enum": ["destination", "api_key"],
            "description": "`rate_limited` only: which limit was hit."
          }
        }
      },
      "JWKS": {
        "type": "object",
        "required": ["keys"],
        "properties": {
          "keys": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["kty", "crv", "alg", "kid", "x", "y"],
              "properties": {
                "kty": {"type": "string", "const": "EC"},
                "crv": {"type": "string", "const": "P-256"},
                "alg": {"type": "string", "const": "ES256"},
                "kid": {"type": "string"},
                "x": {"type": "string"},
                "y": {"type": "string"}
              }
            }
          }
        }
      }
    }
  }
}
"""#
}
