-- A realistic API call for wrk: POST /api/v1/api/items with 15 request headers (14 set here + the Host
-- wrk adds; Content-Length comes on top) and a ~2 KiB JSON body.
local items = {}
for i = 1, 24 do
  items[#items + 1] = string.format(
    '{"sku":"SKU-%05d","name":"widget number %d","qty":%d,"price":%d.99,"tags":["a","b"]}', i, i, i % 7 + 1, i * 3)
end
local body = '{"order_id":"0f8fad5b-d9cb-469f-a165-70867728950e","customer":{"id":48213,"tier":"gold"},'
  .. '"items":[' .. table.concat(items, ",") .. ']}'

wrk.method = "POST"
wrk.path = "/api/v1/api/items"
wrk.body = body
wrk.headers["User-Agent"] = "bench-client/2.3.1 (python-httpx compatible)"
wrk.headers["Accept"] = "application/json"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
wrk.headers["Accept-Language"] = "en-US,en;q=0.9"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. string.rep("eyJhbGciOiJIUzI1NiJ9", 9)
wrk.headers["Cookie"] = "session=" .. string.rep("c2Vzc2lvbg", 8) .. "; theme=dark; locale=en_US"
wrk.headers["X-Request-Id"] = "7b0d5e4a-6c1f-4a53-9e51-2f3c0e8b9d11"
wrk.headers["X-Correlation-Id"] = "corr-5f1c2a9e0b7d4e68"
wrk.headers["X-Client-Version"] = "4.18.2"
wrk.headers["X-Api-Key"] = "ak_live_" .. string.rep("9f8e7d6c", 4)
wrk.headers["Traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
wrk.headers["Tracestate"] = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
wrk.headers["Cache-Control"] = "no-cache"

function init(args)
  if #body < 2000 or #body > 2300 then
    error("body is " .. #body .. " bytes, expected about 2 KiB")
  end
end
