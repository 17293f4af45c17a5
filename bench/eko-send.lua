-- wrk script (bench/profiles.sh): Eko's mobile OTP send, POST /ekoapi/v3/tools/kyc/mobile/otp, signed as Eko signs.
--
-- wrk's Lua has no HMAC, so profiles.sh signs ONE timestamp right before each run and passes the pair in:
-- secret-key = base64(HMAC-SHA256(key = the ASCII bytes of base64(access_key), message = the timestamp text)). The
-- server accepts that pair for 120 s either side of the timestamp, so a run must end well inside that (profiles.sh
-- keeps runs to 100 s at most). The server also refuses a request whose (timestamp, signature, method, path, body)
-- it has seen, so every body here is different: request number n of thread tid uses sequence number
--   seq = BENCH_SEQ_OFFSET + tid + n * BENCH_THREADS        (n = 0, 1, ...)
-- and sends mobile 6000000000 + seq and client_ref_id BENCH_EKO_REF_PREFIX .. seq. Distinct mobiles also mean that each
-- send is the first OTP of its (initiator, mobile): no resend cooldown and no per-destination start limit is hit.
-- done() writes the first unused sequence number to BENCH_SEQ_STATE, so the measured run continues after the warm-up
-- and never repeats one of its mobiles.
--
-- Environment: BENCH_EKO_DEVELOPER_KEY, BENCH_EKO_TIMESTAMP (13-digit ms), BENCH_EKO_SIGNATURE, BENCH_EKO_INITIATOR,
-- BENCH_EKO_REF_PREFIX (letters, digits, - and _; at most 24 characters), BENCH_THREADS, BENCH_SEQ_OFFSET (default
-- 0), BENCH_SEQ_STATE (optional).
--
-- A request succeeds only with HTTP 200 AND Eko's success envelope ("status":0, "response_type_id":1623): Eko's
-- validation failures (461 invalid parameters, 319 invalid initiator_id) come with HTTP 200 too, so the HTTP status
-- alone would not catch them. Anything else counts as "bad". done() prints the same BENCH_RESULT line as the other
-- bench scripts.

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local function required(name)
   local v = os.getenv(name)
   if v == nil or v == "" then error(name .. " is not set") end
   return v
end

local function env_number(name, default)
   local v = os.getenv(name)
   if v == nil or v == "" then return default end
   local n = tonumber(v)
   if n == nil then error(name .. " must be a number, not " .. v) end
   return n
end

function init(args)
   local developer_key = required("BENCH_EKO_DEVELOPER_KEY")
   local timestamp = required("BENCH_EKO_TIMESTAMP")
   local signature = required("BENCH_EKO_SIGNATURE")
   initiator = required("BENCH_EKO_INITIATOR")
   ref_prefix = required("BENCH_EKO_REF_PREFIX")
   if not string.match(ref_prefix, "^[A-Za-z0-9_-]+$") or #ref_prefix > 24 then
      error("BENCH_EKO_REF_PREFIX must be 1 to 24 of A-Z a-z 0-9 _ -")
   end
   nthreads = env_number("BENCH_THREADS", nil)
   if not nthreads then error("BENCH_THREADS is not set") end
   offset = env_number("BENCH_SEQ_OFFSET", 0)

   local host = wrk.host
   if wrk.port then host = host .. ":" .. wrk.port end
   header_block = "POST /ekoapi/v3/tools/kyc/mobile/otp HTTP/1.1\r\nHost: " .. host ..
      "\r\ndeveloper_key: " .. developer_key ..
      "\r\nsecret-key: " .. signature ..
      "\r\nsecret-key-timestamp: " .. timestamp ..
      "\r\ncontent-type: application/json\r\nContent-Length: "

   -- wrk calls request() once on thread 0 right after init only to check it parses; it is never sent.
   verify_call_pending = (tid == 0)
   sent = 0
   responses = 0
   bad = 0
   first_bad = ""
end

local function send_request(n)
   local seq = offset + tid + n * nthreads
   local body = string.format(
      '{"initiator_id":"%s","csp_id":"BENCH","mobile":"%d","client_ref_id":"%s%d"}',
      initiator, 6000000000 + seq, ref_prefix, seq)
   return header_block .. #body .. "\r\n\r\n" .. body
end

function request()
   if verify_call_pending then
      verify_call_pending = false
      return send_request(0)
   end
   local r = send_request(sent)
   sent = sent + 1
   return r
end

function response(status, headers, body)
   responses = responses + 1
   body = body or ""
   if status ~= 200 or not string.find(body, '"status":0[,}]') or not string.find(body, '"response_type_id":1623', 1, true) then
      bad = bad + 1
      if first_bad == "" then first_bad = status .. " " .. string.sub(body, 1, 300) end
   end
end

function done(summary, latency, requests)
   local max_sent, sent_total, bad_total, first = 0, 0, 0, ""
   for _, t in ipairs(threads) do
      local s = t:get("sent") or 0
      sent_total = sent_total + s
      if s > max_sent then max_sent = s end
      bad_total = bad_total + (t:get("bad") or 0)
      local fb = t:get("first_bad") or ""
      if first == "" and fb ~= "" then first = fb end
   end
   local state = os.getenv("BENCH_SEQ_STATE")
   if state and state ~= "" then
      local f = assert(io.open(state, "w"))
      f:write(string.format("%d\n", env_number("BENCH_SEQ_OFFSET", 0) + max_sent * env_number("BENCH_THREADS", 1)))
      f:close()
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d bad=%d sent=%d" ..
      " connect_errors=%d read_errors=%d write_errors=%d timeouts=%d exhausted=0\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      bad_total, sent_total, e.connect, e.read, e.write, e.timeout))
   if first ~= "" then
      io.write("BENCH_FIRST_BAD " .. string.gsub(first, "\n", " ") .. "\n")
   end
end
