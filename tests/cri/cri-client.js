// SPDX-License-Identifier: Apache-2.0
// A minimal CRI client (what kubelet does for a pod's sandbox), independent of plexus: grpc-js
// and proto-loader (tests/fixtures/grpc/node_modules) load the UPSTREAM CRI api.proto
// (../shared/upstream/cri/api.proto next to the repo, or $PLEXUS_CRI_PROTO) at runtime.
//
// node cri-client.js SOCKET run NAME NAMESPACE UID [NETWORKS]   prints {"id": ...}
// node cri-client.js SOCKET status ID                           prints the verbose status
// node cri-client.js SOCKET stop ID | rm ID | list | version
// node cri-client.js SOCKET dsup FILE       a DaemonSet pod from kubelet-ds.py's JSON: RunPodSandbox,
//                                           then CreateContainer + StartContainer for each container;
//                                           prints {"id": ..., "containers": {NAME: ID}}
// node cri-client.js SOCKET dsdown ID GRACE  the kubelet's pod removal: StopContainer of every
//                                           container (in parallel, timeout GRACE s), then
//                                           RemoveContainer, StopPodSandbox, RemovePodSandbox;
//                                           prints {"containers": [{name, attempt, ms, exit_code, reason}]}
// On an RPC error: the gRPC status details on stderr, exit 1.
'use strict';
const path = require('path');
const { createRequire } = require('module');
const req = createRequire(path.resolve(__dirname, '..', 'fixtures', 'grpc', 'package.json'));
const grpc = req('@grpc/grpc-js');
const loader = req('@grpc/proto-loader');

const proto = process.env.PLEXUS_CRI_PROTO ||
	path.resolve(__dirname, '..', '..', '..', 'shared', 'upstream', 'cri', 'api.proto');
const def = loader.loadSync(proto, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const rt = grpc.loadPackageDefinition(def).runtime.v1;

const [sock, cmd, ...args] = process.argv.slice(2);
if (!sock || !cmd) {
	process.stderr.write('usage: cri-client.js SOCKET run|status|stop|rm|list|version|dsup|dsdown ...\n');
	process.exit(2);
}
const client = new rt.RuntimeService(`unix://${sock}`, grpc.credentials.createInsecure());
const deadline = () => ({ deadline: Date.now() + Number(process.env.CRI_TIMEOUT_MS || 60000) });
const call = (method, request) => new Promise((resolve, reject) =>
	client[method](request, deadline(), (err, res) => (err ? reject(err) : resolve(res))));

function sandboxConfig(name, namespace, uid, networks) {
	const annotations = { 'plexus.test/owner': 'tests/cri' };
	if (networks) annotations['k8s.v1.cni.cncf.io/networks'] = networks;
	return {
		metadata: { name, namespace, uid, attempt: 0 },
		hostname: name,
		log_directory: '',
		labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': namespace },
		annotations,
		linux: {
			cgroup_parent: '',
			security_context: {
				// kubelet's defaults for a pod without hostNetwork/hostPID/hostIPC.
				namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' },
				privileged: false,
				readonly_rootfs: false,
				seccomp: { profile_type: 'Unconfined' },
			},
		},
	};
}

async function main() {
	let out;
	switch (cmd) {
	case 'version':
		out = await call('Version', { version: 'v1' });
		break;
	case 'run': {
		const [name, namespace, uid, networks] = args;
		const r = await call('RunPodSandbox', { config: sandboxConfig(name, namespace, uid, networks), runtime_handler: '' });
		out = { id: r.pod_sandbox_id };
		break;
	}
	case 'status': {
		const r = await call('PodSandboxStatus', { pod_sandbox_id: args[0], verbose: true });
		const info = {};
		for (const [k, v] of Object.entries(r.info || {})) {
			try { info[k] = JSON.parse(v); } catch { info[k] = v; }
		}
		out = { status: r.status, info };
		break;
	}
	case 'stop':
		out = await call('StopPodSandbox', { pod_sandbox_id: args[0] });
		break;
	case 'rm':
		out = await call('RemovePodSandbox', { pod_sandbox_id: args[0] });
		break;
	case 'list':
		out = (await call('ListPodSandbox', {})).items.map((s) => ({ id: s.id, name: s.metadata.name, state: s.state }));
		break;
	case 'dsup': {
		const spec = JSON.parse(require('fs').readFileSync(args[0], 'utf8'));
		const r = await call('RunPodSandbox', { config: spec.sandbox, runtime_handler: '' });
		out = { id: r.pod_sandbox_id, containers: {} };
		for (const c of spec.containers) {
			// The api.proto at hand types KeyValue.value as bytes (same wire format as string).
			c.envs = (c.envs || []).map((e) => ({ key: e.key, value: Buffer.from(e.value) }));
			const cr = await call('CreateContainer', { pod_sandbox_id: out.id, config: c, sandbox_config: spec.sandbox });
			await call('StartContainer', { container_id: cr.container_id });
			out.containers[c.metadata.name] = cr.container_id;
		}
		break;
	}
	case 'dsdown': {
		const [id, grace] = args;
		const cs = (await call('ListContainers', { filter: { pod_sandbox_id: id } })).containers;
		out = { containers: await Promise.all(cs.map(async (c) => {
			const t0 = process.hrtime.bigint();
			await call('StopContainer', { container_id: c.id, timeout: Number(grace) });
			const ms = Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
			const st = (await call('ContainerStatus', { container_id: c.id })).status;
			return { name: c.metadata.name, attempt: c.metadata.attempt, ms, exit_code: st.exit_code, reason: st.reason };
		})) };
		for (const c of cs)
			await call('RemoveContainer', { container_id: c.id });
		await call('StopPodSandbox', { pod_sandbox_id: id });
		await call('RemovePodSandbox', { pod_sandbox_id: id });
		break;
	}
	default:
		throw new Error(`unknown command ${cmd}`);
	}
	process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(() => { client.close(); }, (err) => {
	process.stderr.write(`${grpc.status[err.code] || err.code}: ${err.details || err.message}\n`);
	client.close();
	process.exit(1);
});
