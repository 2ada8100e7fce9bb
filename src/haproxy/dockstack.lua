-- Loaded by the HAProxy config DockStack renders (see lua-slots.ts). HAProxy 2.6's CLI finds
-- "backend/server" by walking the backend's server list: at 16,384 slots a command near the
-- list's end costs ~1 ms. core.backends, built once per worker, holds every config server by
-- name, so this command finds one by a table lookup and sets its whole state at once. Servers
-- added at runtime (`add server`) are not in it and keep the native commands.
--
-- dockstack slot <backend>/<server> <ip|-> <port|-> <weight|-> <ready|drain|maint> <on|off|->
-- Answers "ok", or why it stopped (the steps before that stay done; the agent then re-reads
-- the backend's state). Any other answer, an empty one included (a Lua error), is a refusal.

local STATES = { ready = true, drain = true, maint = true }
local HEALTH = { on = true, off = true, ["-"] = true }

-- The table holds raw server pointers: a server Lua has touched is one `del server` refuses, so
-- touch every config server before the worker serves, and none can be freed under the table.
core.register_init(function()
  for _, px in pairs(core.backends) do
    for _, s in pairs(px.servers) do s:get_weight() end
  end
end)

local function int_in(v, lo, hi)
  if v == nil or not string.match(v, "^%d+$") then return nil end
  local n = tonumber(v)
  if n < lo or n > hi then return nil end
  return n
end

local function set_state(s, state)
  if state == "ready" then s:set_ready() elseif state == "drain" then s:set_drain() else s:set_maint() end
end

local function slot(sv, ip, port, weight, state, health)
  if not (ip and port and weight and STATES[state or ""] and HEALTH[health or ""]) then return "Usage: dockstack slot <backend>/<server> <ip|-> <port|-> <weight|-> <ready|drain|maint> <on|off|->" end
  local be, name = string.match(sv or "", "^([%w_.-]+)/([%w_.-]+)$")
  local px = be and core.backends[be]
  local s = px and px.servers[name]
  if not s then return "No such server." end
  -- An IP literal only: no name to resolve, no zone, no port map.
  if ip ~= "-" and not (string.match(ip, "^[%x:.]+$") and int_in(port, 1, 65535)) then return "Invalid address." end
  if weight ~= "-" and not int_in(weight, 0, 256) then return "Invalid weight." end
  -- The native commands' order: address, weight and checks first, then the state (checks off after it).
  if ip ~= "-" then
    local m = s:set_addr(ip, port)
    local addr_ok = string.match(m, "^IP changed from ") or string.match(m, "^no need to change the addr")
    local port_ok = string.match(m, ", port changed from ") or string.match(m, ", no need to change the port")
    if not (addr_ok and port_ok) then return (string.gsub(m, "%s+$", "")) end
  end
  if weight ~= "-" then
    local err = s:set_weight(weight)
    if err then return (string.gsub(err, "%s+$", "")) end
    if s:get_weight() ~= tonumber(weight) then return "Weight not applied." end
  end
  if health == "on" then s:check_enable() end
  set_state(s, state)
  if health == "off" then s:check_disable() end
  return "ok"
end

core.register_cli({ "dockstack", "slot" }, "dockstack slot <backend>/<server> <ip|-> <port|-> <weight|-> <state> <on|off|->: set a config slot's state", function(applet, _, _, sv, ip, port, weight, state, health, extra)
  local answer = extra == nil and slot(sv, ip, port, weight, state, health) or "Too many arguments."
  applet:send(answer .. "\n")
end)

core.register_cli({ "dockstack", "version" }, "dockstack version: whether the slot command is loaded", function(applet)
  applet:send("dockstack 1\n")
end)
