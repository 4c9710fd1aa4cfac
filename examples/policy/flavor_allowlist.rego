# An allow-list of flavors per resource pool: a node pool may only be created with a flavor
# its pool allows (a flavor cannot change afterwards). Pools not listed here are not limited.
package main

import rego.v1

allowed_flavors := {
	"pool-prod": {"modelarts.vm.gpu.t4u8", "modelarts.vm.gpu.a100"},
	"pool-dev": {"modelarts.vm.cpu.8u32g", "modelarts.vm.gpu.t4u8"},
}

flavor_denies := [{"msg": msg, "address": rc.address} |
	some rc in input.resource_changes
	"create" in rc.actions
	allowed := allowed_flavors[rc.pool]
	not rc.after.flavor in allowed
	msg := concat("", [rc.address, ": flavor ", rc.after.flavor, " is not allowed in ", rc.pool])
]

deny contains d if some d in flavor_denies
