-- wrk script for scripts/bench_api: POST bodies for the docanchor HTTP API.
--
--   wrk ... -s scripts/bench_api_wrk.lua http://127.0.0.1:PORT -- verify DIGEST_FILE
--   wrk ... -s scripts/bench_api_wrk.lua http://127.0.0.1:PORT -- register API_KEY RUN
--
-- verify: POST /v1/verify {"sha256": ...}, cycling through the digests of DIGEST_FILE
-- (one 64-hex digest a line; the caller mixes registered and unknown ones).
-- register: POST /v1/documents, a 2 KB multipart file and its metadata; every
-- request's file is different (RUN, the thread and a counter are part of it), so
-- every registration is new. done() prints one line "WRKJSON {...}" for the caller.

local next_thread = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

local mode
local digests = {}
local key, run, filler
local counter = 0
local boundary = "docanchor-bench-7f3a9c"

function init(args)
  mode = args[1]
  if mode == "verify" then
    for line in io.lines(args[2]) do
      digests[#digests + 1] = '{"sha256":"' .. line .. '"}'
    end
    counter = thread_id * 7919
  elseif mode == "register" then
    key = args[2]
    run = args[3]
    math.randomseed(thread_id + 1)
    local bytes = {}
    for i = 1, 2000 do
      bytes[i] = string.char(math.random(32, 126))
    end
    filler = "%PDF-1.7 " .. table.concat(bytes)
  else
    error("mode must be verify or register")
  end
end

local json_headers = { ["Content-Type"] = "application/json" }

function request()
  counter = counter + 1
  if mode == "verify" then
    return wrk.format("POST", "/v1/verify", json_headers, digests[counter % #digests + 1])
  end
  local tag = run .. "-" .. thread_id .. "-" .. counter
  local body = "--" .. boundary .. "\r\n"
    .. 'Content-Disposition: form-data; name="metadata"\r\n\r\n'
    .. '{"reference":"REG-' .. tag .. '","type":"invoice"}\r\n'
    .. "--" .. boundary .. "\r\n"
    .. 'Content-Disposition: form-data; name="file"; filename="oc.pdf"\r\n'
    .. "Content-Type: application/pdf\r\n\r\n"
    .. filler .. tag .. "\r\n"
    .. "--" .. boundary .. "--\r\n"
  return wrk.format("POST", "/v1/documents", {
    ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
    ["Authorization"] = "Bearer " .. key,
  }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,'
      .. '"non_2xx_3xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.status, e.connect, e.read, e.write, e.timeout
  ))
end
