-- GET with an optional bearer token (BENCH_TOKEN in the environment is not
-- visible to wrk, so the token is passed as the first script argument).
init = function(args)
  if args[1] then
    wrk.headers["Authorization"] = "Bearer " .. args[1]
  end
end
