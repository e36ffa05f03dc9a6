-- wrk script: GET /api/v1/clusters/$BOSUN_CLUSTER/config as a viewer.
local token = os.getenv("BOSUN_TOKEN")
wrk.method = "GET"
wrk.path = "/api/v1/clusters/" .. os.getenv("BOSUN_CLUSTER") .. "/config"
wrk.headers["Authorization"] = "Bearer " .. token
