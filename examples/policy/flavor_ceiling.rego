# A count ceiling per flavor: the whole fleet may not hold more nodes of a flavor than its
# ceiling after a plan. A plan that does not raise a flavor's total is let through even when
# the fleet is already above it, so an unrelated change is never blocked by old capacity.
package main

import rego.v1

flavor_ceiling := {
	"modelarts.vm.gpu.a100": 64,
	"modelarts.vm.gpu.t4u8": 256,
}

ceiling_denies := [{"msg": msg, "address": null} |
	some flavor
	ceiling := flavor_ceiling[flavor]
	after := sum([rc.after.count | some rc in input.resource_changes; rc.after.flavor == flavor])
	after > ceiling
	before := sum([rc.before.count | some rc in input.resource_changes; rc.before.flavor == flavor])
	after > before
	msg := concat("", [
		"flavor ", flavor, ": ", format_int(after, 10),
		" nodes after this plan, above its ceiling of ", format_int(ceiling, 10),
	])
]

deny contains d if some d in ceiling_denies
