-- wrk script: every request a POST of a new customer, with a unique X-Request-ID and name
-- (an X-Request-ID is an idempotency key, a name must be unique per tenant), and a count
-- of the answers that are not 201 (a 202 is a 2xx that wrk would not report).
-- Arguments (after `--`): a prefix unique to the run.

local counter = 0
not_created = 0 -- globals: done() reads them from the thread
last_status = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] or "bench"
end

function request()
  counter = counter + 1
  local id = prefix .. "-" .. counter
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  headers["X-Request-ID"] = id
  headers["Content-Type"] = "application/json"
  local body = '{"name":"Bench ' .. id .. '","phone":"13812345678"}'
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  if status ~= 201 then
    not_created = not_created + 1
    last_status = status
  end
end

function done(summary, latency, requests)
  local count, status = 0, 0
  for _, thread in ipairs(threads) do
    count = count + thread:get("not_created")
    if thread:get("last_status") ~= 0 then
      status = thread:get("last_status")
    end
  end
  io.write(string.format("answers other than 201: %d (last status %d)\n", count, status))
end
