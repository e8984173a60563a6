-- Argo CD health check for bunq.pinq.dev/BunqPinnedCertificate.
-- Install it under resource.customizations.health.bunq.pinq.dev_BunqPinnedCertificate
-- in argocd-cm (see docs/gitops.md). Uses only Lua's base library, as Argo CD allows.
local hs = {}

if obj.status == nil or obj.status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

if obj.metadata.generation ~= nil and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. obj.metadata.generation
  return hs
end

local ready = nil
local served = nil
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    elseif condition.type == "Served" then
      served = condition
    end
  end
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

local message = ready.message or ""
if ready.status == "True" and served ~= nil and served.status == "False" then
  -- Pinned, but a callback endpoint serves another leaf: its callbacks fail.
  hs.status = "Degraded"
  message = (served.reason or "EndpointNotPinned") .. ": " .. (served.message or "")
elseif ready.status == "True" then
  hs.status = "Healthy"
elseif ready.reason == "Pinning" or ready.reason == "TemporaryCertificate" then
  hs.status = "Progressing"
elseif ready.reason == "Suspended" then
  hs.status = "Suspended"
else
  hs.status = "Degraded"
  message = (ready.reason or "NotReady") .. ": " .. message
end
hs.message = message
return hs
