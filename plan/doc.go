// Package plan turns (configuration, source catalog, target catalog, state) into a Plan:
// an ordered list of actions with stable addresses. It is a pure function: it never
// connects to a server, so the same inputs always give the same plan.
package plan
