-- wrk script (bench/profiles.sh): M2P's prepaid OTP generate, POST /prepaid/customer/v1/otp/generate with
-- Authorization: Bearer <access token from POST /auth/token> and X-TENANT-ID, body {"entityId": ..., "otpType": "S"}.
--
-- Every generate is a new engine start to the customer's mobile on file, and the server allows only so many starts
-- per destination in its window (Policy.startsPerDestination, 5 in 600 s by default). So the requests cycle over a
-- pool of imported customers (BENCH_POOL: one entityId a line) and no customer gets more than BENCH_POOL_USES of
-- them across all runs that share the pool. Request number n of thread tid uses sequence number
--   seq = BENCH_POOL_OFFSET + tid + n * BENCH_THREADS        (n = 0, 1, ...)
-- and customer seq mod pool size (so consecutive requests go to different customers). A thread whose next seq
-- would reach pool size * BENCH_POOL_USES stops and the run counts as exhausted (its requests/s is then too low).
-- done() writes the first unused seq to BENCH_POOL_STATE, so the measured run continues after the warm-up.
--
-- Environment: BENCH_API_KEY (the access token), BENCH_M2P_TENANT (X-TENANT-ID), BENCH_POOL, BENCH_POOL_USES
-- (default 1), BENCH_THREADS, BENCH_POOL_OFFSET (default 0), BENCH_POOL_STATE (optional).
--
-- A request succeeds only with HTTP 200 and M2P's success body ("status":true with a "traceNumber"); anything else
-- counts as "bad". done() prints the same BENCH_RESULT line as the other bench scripts.

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
   local token = required("BENCH_API_KEY")
   local x_tenant = required("BENCH_M2P_TENANT")
   local pool = required("BENCH_POOL")
   nthreads = env_number("BENCH_THREADS", nil)
   if not nthreads then error("BENCH_THREADS is not set") end
   offset = env_number("BENCH_POOL_OFFSET", 0)
   local uses = env_number("BENCH_POOL_USES", 1)

   local host = wrk.host
   if wrk.port then host = host .. ":" .. wrk.port end
   header_block = "POST /prepaid/customer/v1/otp/generate HTTP/1.1\r\nHost: " .. host ..
      "\r\nAuthorization: Bearer " .. token ..
      "\r\nX-TENANT-ID: " .. x_tenant ..
      "\r\nContent-Type: application/json\r\nContent-Length: "

   -- The bodies are built once: one per customer.
   bodies = {}
   for line in io.lines(pool) do
      if line ~= "" then
         bodies[#bodies + 1] = '{"entityId":"' .. line .. '","otpType":"S"}'
      end
   end
   pool_size = #bodies
   if pool_size == 0 then error("BENCH_POOL " .. pool .. " has no entityIds") end
   limit_seq = pool_size * uses

   verify_call_pending = (tid == 0)
   sent = 0
   responses = 0
   bad = 0
   exhausted = 0
   first_bad = ""
end

local function generate_request(seq)
   local body = bodies[(seq % pool_size) + 1]
   return header_block .. #body .. "\r\n\r\n" .. body
end

function request()
   local seq = offset + tid + sent * nthreads
   if verify_call_pending then
      verify_call_pending = false
      return generate_request(seq)
   end
   if seq >= limit_seq then
      exhausted = 1
      wrk.thread:stop()
      return wrk.format("GET", "/healthz", {}, nil)
   end
   sent = sent + 1
   return generate_request(seq)
end

function response(status, headers, body)
   responses = responses + 1
   body = body or ""
   if status == 200 and string.find(body, '"traceNumber":"', 1, true) and string.find(body, '"status":true', 1, true) then
      return
   end
   -- The GET /healthz a stopping thread returns (see request()) is no generate.
   if exhausted == 1 and status == 200 and string.sub(body, 1, 9) ~= '{"result"' then return end
   bad = bad + 1
   if first_bad == "" then first_bad = status .. " " .. string.sub(body, 1, 300) end
end

function done(summary, latency, requests)
   local max_sent, sent_total, bad_total, exhausted_total, first = 0, 0, 0, 0, ""
   for _, t in ipairs(threads) do
      local s = t:get("sent") or 0
      sent_total = sent_total + s
      if s > max_sent then max_sent = s end
      bad_total = bad_total + (t:get("bad") or 0)
      exhausted_total = exhausted_total + (t:get("exhausted") or 0)
      local fb = t:get("first_bad") or ""
      if first == "" and fb ~= "" then first = fb end
   end
   local state = os.getenv("BENCH_POOL_STATE")
   if state and state ~= "" then
      local f = assert(io.open(state, "w"))
      f:write(string.format("%d\n", env_number("BENCH_POOL_OFFSET", 0) + max_sent * env_number("BENCH_THREADS", 1)))
      f:close()
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d bad=%d sent=%d" ..
      " connect_errors=%d read_errors=%d write_errors=%d timeouts=%d exhausted=%d\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      bad_total, sent_total, e.connect, e.read, e.write, e.timeout, exhausted_total))
   if first ~= "" then
      io.write("BENCH_FIRST_BAD " .. string.gsub(first, "\n", " ") .. "\n")
   end
end
