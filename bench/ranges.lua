-- wrk script for workload (b): random 64 KiB ranges over 1000 files of 1 MiB.
--
-- Each request picks a random file ranges/rNNN.mp3 and a random 32 KiB-aligned offset, and
-- asks for the 64 KiB after it with a bounded `Range`, on keep-alive connections. That is
-- the per-request cost a server pays when many players read many files at once: path
-- lookup, open, range parsing, headers, a small body. The summary is printed as one JSON
-- line that wrk_ranges.py picks up (latencies in microseconds).
--
-- Why aligned: browsers seek at 32 KiB multiples, and with offsets that are not page-aligned
-- nginx 1.22 (sendfile + tcp_nopush, as configured here) stalls about 40 ms on most
-- responses (measured here: p50 43.9 ms and 1.7k req/s, against 2.6 ms and 15k+ aligned),
-- which would make any server look good beside it.

local FILES = 1000
local FILE_SIZE = 1024 * 1024
local RANGE = 64 * 1024
local ALIGN = 32 * 1024

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  -- Each wrk thread has its own Lua state: seed them differently.
  math.randomseed(os.time() * 100 + id)
end

function request()
  local file = math.random(0, FILES - 1)
  local first = math.random(0, (FILE_SIZE - RANGE) / ALIGN) * ALIGN
  local path = string.format("%sranges/r%03d.mp3", wrk.path, file)
  local range = string.format("bytes=%d-%d", first, first + RANGE - 1)
  return wrk.format("GET", path, { Range = range })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
