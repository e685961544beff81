-- POST /api/v1/auth/refresh, following each token chain: every response's new
-- refresh token goes back into this thread's pool for the next request.
-- args[1] = file with one refresh token per line; thread i takes lines i, i+n, ...
local threads = {}
local counter = 0

setup = function(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

init = function(args)
  pool = {}
  local n = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % n == (id - 1) then
      table.insert(pool, line)
    end
    i = i + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

request = function()
  local token = table.remove(pool, 1)
  if token == nil then
    token = "pool-empty"
  end
  return wrk.format(nil, nil, nil, '{"refresh_token":"' .. token .. '"}')
end

response = function(status, headers, body)
  local token = string.match(body, '"refresh_token":"([^"]+)"')
  if token then
    table.insert(pool, token)
  end
end
