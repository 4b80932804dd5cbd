-- wrk script: replays pre-encrypted callbacks (benches/load/encrypt_callbacks.rs), each
-- exactly once across all threads, then stops. Counts answers that are not HTTP 200 and
-- 200s with an empty body (no passive reply).
--   wrk -t2 -c500 -d60s -s benches/load/replay.lua http://127.0.0.1:8080/wecom/callback -- 2
-- (the argument after `--` is the thread count, as -t)
-- CALLBACKS=path/to/callbacks.tsv (default /tmp/callbacks.tsv)

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("CALLBACKS") or "/tmp/callbacks.tsv"
  local count = tonumber(args[1] or "2")
  lines, next_line, empty, non200, exhausted = {}, 1, 0, 0, 0
  local i = 0
  for line in io.lines(path) do
    if i % count == id then
      local tab = line:find("\t", 1, true)
      table.insert(lines, { line:sub(1, tab - 1), line:sub(tab + 1) })
    end
    i = i + 1
  end
end

function request()
  local item = lines[next_line]
  if item == nil then
    -- Out of callbacks: the run was too long for the file; the figures would be wrong.
    exhausted = 1
    wrk.thread:stop()
    item = lines[#lines]
  end
  next_line = next_line + 1
  return wrk.format("POST", wrk.path .. "?" .. item[1], { ["Content-Type"] = "text/xml" }, item[2])
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 elseif #body == 0 then empty = empty + 1 end
end

function done(summary, latency, requests)
  local empty_total, non200_total, exhausted_total = 0, 0, 0
  for _, t in ipairs(threads) do
    empty_total = empty_total + t:get("empty")
    non200_total = non200_total + t:get("non200")
    exhausted_total = exhausted_total + t:get("exhausted")
  end
  if exhausted_total > 0 then
    io.write("RAN OUT OF CALLBACKS: requests/s below is not a measurement (make more)\n")
  end
  io.write(string.format("non-200: %d, empty 200: %d\n", non200_total, empty_total))
  io.write(string.format("p50 %.2f ms, p99 %.2f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
