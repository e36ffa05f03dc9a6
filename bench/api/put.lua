-- wrk script: PUT /api/v1/clusters/$BOSUN_CLUSTER/services/svc-NN with a new image tag,
-- round-robin over $BOSUN_SERVICES services, as a deployer.
local token = os.getenv("BOSUN_TOKEN")
local cluster = os.getenv("BOSUN_CLUSTER")
local services = tonumber(os.getenv("BOSUN_SERVICES"))
local i = 0
request = function()
  i = i + 1
  local path = string.format("/api/v1/clusters/%s/services/svc-%02d", cluster, i % services)
  local body = string.format('{"image_tag": "v%d"}', i)
  return wrk.format("PUT", path, { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
