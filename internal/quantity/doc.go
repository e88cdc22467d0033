// Package quantity parses Kubernetes resource quantities ("500m", "2Gi",
// "1e3") from untrusted input.
//
// resource.ParseQuantity accepts any decimal exponent, and comparing or
// converting a quantity such as "1E10200701" then takes seconds of CPU:
// a hostile manifest or policy could stall evaluation. Parse refuses
// exponents beyond MaxExponent, which no real quantity needs.
package quantity
