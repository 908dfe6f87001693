// Command keel runs Keel's gateway and its tools.
//
//	keel demo                     a small system on this machine, attacked for a minute, with a verdict
//	keel gateway -c keel.yaml     run the resilient reverse proxy
//	keel validate -c keel.yaml    check a configuration file and exit
//	keel chaos <tool>             fault-injection tools (TCP fault proxy, replica killer)
//	keel experiment run exp.yaml  a chaos experiment: hypothesis, method, rollbacks, journal and report
//	keel version                  print the version
//
// Run "keel help <command>" for the flags of one command. Each subcommand
// lives in its own file; main.go only dispatches and maps results to exit
// codes: 0 success, 1 failure, 2 a usage or configuration error.
package main
