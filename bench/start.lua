-- wrk script: POST /v1/verifications, each request to a fresh random Indian mobile number
-- (+91, then 10 digits starting 6-9), so the per-destination limit (5 starts / 10 min) never trips.
--
-- Environment (read by every wrk thread):
--   BENCH_API_KEY       the tenant's API key (required)
--   BENCH_THREADS       wrk's -t value (required when BENCH_START_LIMIT is set)
--   BENCH_START_LIMIT   optional: send exactly this many starts in total, then stop (the check preload)
--   BENCH_TTL_SECONDS   optional: "ttl_seconds" to send (the preload asks for 600, the maximum)
--   BENCH_PATH          optional: the path to POST to (default /v1/verifications; the bare workload sends the same
--                       request to /bench/bare)
--   BENCH_ID_FILE       optional: record the verification id of every 2xx answer and write them to this file,
--                       one per line (bench/nginx.sh compares them with the database). Unset: nothing is parsed.
--
-- done() prints one machine-readable line, "BENCH_RESULT key=value ...", that bench/run.sh parses.
-- With BENCH_ID_FILE it also prints "BENCH_IDS recorded=N no_id=M file=PATH" (no_id: 2xx answers without a
-- parseable "id":"vrf_..."; "BENCH_FIRST_NO_ID ..." shows the first), or "BENCH_IDS_ERROR ..." if the file
-- could not be written.
--
-- How the ids get out: wrk has no per-thread "end" hook and never closes the threads' Lua states, so a file a
-- thread opened would be flushed only by the C library at wrk's exit. Instead each thread appends the ids to a
-- Lua table (one string match and one table store per 2xx answer, nothing else), and done(), which wrk calls
-- once in the main thread after every thread has been joined, copies each thread's table over (thread:get),
-- writes the file and closes it before wrk exits. Answers still in flight when wrk's -d ran out are never
-- passed to response() and are not in the file (nor counted by wrk, as requests or as errors).

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local function env_number(name)
   local v = os.getenv(name)
   if v == nil or v == "" then return nil end
   local n = tonumber(v)
   if n == nil then error(name .. " must be a number, not " .. v) end
   return n
end

function init(args)
   local key = os.getenv("BENCH_API_KEY")
   if key == nil or key == "" then error("BENCH_API_KEY is not set") end
   -- The raw request is built by hand: one concatenation per request.
   local host = wrk.host
   if wrk.port then host = host .. ":" .. wrk.port end
   local path = os.getenv("BENCH_PATH")
   if path == nil or path == "" then path = "/v1/verifications" end
   header_block = "POST " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer " .. key ..
      "\r\nContent-Type: application/json\r\nContent-Length: "

   -- Each thread has its own Lua state and LuaJIT seeds them all alike: mix in the thread id.
   math.randomseed(os.time() * 7919 + tid * 104729 + math.floor((os.clock() * 1e6) % 1e6))

   ttl = env_number("BENCH_TTL_SECONDS")
   limit = nil
   local total = env_number("BENCH_START_LIMIT")
   if total then
      local nthreads = env_number("BENCH_THREADS")
      if not nthreads then error("BENCH_THREADS is required with BENCH_START_LIMIT") end
      limit = math.floor(total / nthreads)
      if tid < total % nthreads then limit = limit + 1 end
   end

   -- wrk calls request() once on thread 0, right after init, only to check the request parses;
   -- that request is never sent, so it must not count towards the limit.
   verify_call_pending = (tid == 0)
   sent = 0
   responses = 0
   bad = 0
   first_bad = ""

   local id_file = os.getenv("BENCH_ID_FILE")
   record_ids = id_file ~= nil and id_file ~= ""
   if record_ids and limit then
      -- The limit ends each thread with a GET /healthz whose 2xx answer has no id.
      error("BENCH_ID_FILE cannot be combined with BENCH_START_LIMIT")
   end
   ids = {}
   nids = 0
   no_id = 0
   first_no_id = ""
end

local function start_request()
   local to = string.format("+91%d%09d", math.random(6, 9), math.random(0, 999999999))
   local body
   if ttl then
      body = string.format('{"to":"%s","channel":"sms","ttl_seconds":%d}', to, ttl)
   else
      body = '{"to":"' .. to .. '","channel":"sms"}'
   end
   return header_block .. #body .. "\r\n\r\n" .. body
end

function request()
   if verify_call_pending then
      verify_call_pending = false
      return start_request()
   end
   if limit and sent >= limit then
      -- This thread has sent its share: stop its event loop. wrk still writes the request returned
      -- here, so make it a harmless read.
      wrk.thread:stop()
      return wrk.format("GET", "/healthz", {}, nil)
   end
   sent = sent + 1
   return start_request()
end

function response(status, headers, body)
   responses = responses + 1
   if status < 200 or status > 299 then
      bad = bad + 1
      if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
   elseif record_ids then
      local id = string.match(body or "", '"id"%s*:%s*"(vrf_[a-z2-7]+)"')
      if id and #id == 30 then
         nids = nids + 1
         ids[nids] = id
      else
         no_id = no_id + 1
         if first_no_id == "" then first_no_id = status .. " " .. string.sub(body or "", 1, 300) end
      end
   end
end

-- Writes every thread's recorded ids to BENCH_ID_FILE and reports how many (see the top of this file).
local function write_ids(path)
   local f, err = io.open(path, "w")
   if not f then
      io.write("BENCH_IDS_ERROR cannot open " .. path .. ": " .. tostring(err) .. "\n")
      return
   end
   local recorded, missing, first = 0, 0, ""
   for _, t in ipairs(threads) do
      local n = t:get("nids") or 0
      if n > 0 then
         local list = t:get("ids")
         local ok, werr = f:write(table.concat(list, "\n", 1, n), "\n")
         if not ok then
            io.write("BENCH_IDS_ERROR cannot write " .. path .. ": " .. tostring(werr) .. "\n")
            f:close()
            return
         end
      end
      recorded = recorded + n
      missing = missing + (t:get("no_id") or 0)
      local fn = t:get("first_no_id") or ""
      if first == "" and fn ~= "" then first = fn end
   end
   local ok, cerr = f:close()
   if not ok then
      io.write("BENCH_IDS_ERROR cannot close " .. path .. ": " .. tostring(cerr) .. "\n")
      return
   end
   io.write(string.format("BENCH_IDS recorded=%d no_id=%d file=%s\n", recorded, missing, path))
   if first ~= "" then
      io.write("BENCH_FIRST_NO_ID " .. string.gsub(first, "\n", " ") .. "\n")
   end
end

function done(summary, latency, requests)
   local sent_total, bad_total, first = 0, 0, ""
   for _, t in ipairs(threads) do
      sent_total = sent_total + (t:get("sent") or 0)
      bad_total = bad_total + (t:get("bad") or 0)
      local fb = t:get("first_bad") or ""
      if first == "" and fb ~= "" then first = fb end
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
   local id_file = os.getenv("BENCH_ID_FILE")
   if id_file ~= nil and id_file ~= "" then write_ids(id_file) end
end
