// A bunq client written by someone else, run against the emulator as a new
// user would: install, registerDevice, registerSession, getUsers, then pin,
// list and unpin a chain through its ApiAdapter. It prints one JSON line of
// what it saw; the Go test beside it checks that against the emulator.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const Session = require("@bunq-community/bunq-js-client/dist/Session");
const BunqJSClient = require("@bunq-community/bunq-js-client").default;

const url = process.env.BUNQ_URL; // the emulator's root, without /v1
const apiKey = process.env.BUNQ_API_KEY;
const chain = fs.readFileSync(process.env.CHAIN_FILE, "utf8");

// The client knows two hosts; the emulator stands in for the sandbox.
Session.URL_ENVIROMENTS.SANDBOX = url;

// The client's own store interface, in memory: get, set, remove.
const memory = new Map();
const store = {
    get: async key => memory.get(key),
    set: async (key, value) => memory.set(key, value),
    remove: async key => memory.delete(key),
};

async function main() {
    const client = new BunqJSClient(store);
    client.setKeepAlive(false);
    await client.run(apiKey, [], "SANDBOX", "3c7a4d431a846ed33a3bb1b1fa9b5c26");
    await client.install();
    await client.registerDevice("bunq-js-client against the emulator");
    await client.registerSession();
    const users = await client.getUsers(true);
    const type = Object.keys(users)[0];
    const userId = users[type].id;

    const api = client.ApiAdapter;
    const pinned = await api.post(`/v1/user/${userId}/certificate-pinned`,
        { certificate_chain: [{ certificate: chain }] });
    const id = pinned.Response[0].Id.id;
    const listed = await api.get(`/v1/user/${userId}/certificate-pinned`);
    const ids = listed.Response.map(entry => entry.CertificatePinned.id);
    await api.delete(`/v1/user/${userId}/certificate-pinned/${id}`);
    const after = await api.get(`/v1/user/${userId}/certificate-pinned`);
    console.log(JSON.stringify({ userType: type, userId, pinned: id, listed: ids, left: after.Response.length }));
    client.destroyApiSession && await client.destroyApiSession().catch(() => {});
    process.exit(0);
}

main().catch(err => {
    const res = err.response;
    console.error("bunq-js-client failed:", err.message, res ? `${res.status} ${JSON.stringify(res.data)}` : "");
    process.exit(1);
});
