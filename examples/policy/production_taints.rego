# No NoExecute taint in production: it evicts running pods at once. `input.workspace` is np's
# (--workspace); a plan JSON checked by conftest has none, so there every NoExecute taint is a
# warning instead (see README.md).
package main

import rego.v1

production_workspaces := {"production"}

no_execute := [{"msg": msg, "address": rc.address} |
	some rc in input.resource_changes
	some taint in rc.after.taints
	taint.effect == "NoExecute"
	msg := concat("", [rc.address, ": taint ", taint.key, " has effect NoExecute, which production does not allow"])
]

taint_denies := [d | input.workspace in production_workspaces; some d in no_execute]

taint_warnings := [w |
	not input.workspace
	some d in no_execute
	w := {"msg": concat("", [d.msg, " (workspace unknown: not run by np)"]), "address": d.address}
]

deny contains d if some d in taint_denies

warn contains w if some w in taint_warnings
