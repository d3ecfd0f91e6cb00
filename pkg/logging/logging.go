// Package logging sets up the logs of both binaries: the flags of k8s.io/component-base's
// logging configuration (--logging-format=text|json, -v, --vmodule, --log-flush-frequency)
// and klog's other flags (--log_file, …) for compatibility. Either format writes to
// stderr, as klog always did.
package logging

import (
	"flag"
	"os"

	logsapi "k8s.io/component-base/logs/api/v1"
	_ "k8s.io/component-base/logs/json/register" // --logging-format=json
	"k8s.io/klog/v2"
)

// Options is the logging configuration the flags fill.
type Options struct{ c *logsapi.LoggingConfiguration }

// AddFlags registers the logging flags on fs.
func AddFlags(fs *flag.FlagSet) *Options {
	o := &Options{c: logsapi.NewLoggingConfiguration()}
	logsapi.AddGoFlags(o.c, fs)
	var kfs flag.FlagSet
	klog.InitFlags(&kfs)
	kfs.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) == nil {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	return o
}

// Apply validates the configuration and installs the logger; once per process.
func (o *Options) Apply() error {
	return logsapi.ValidateAndApplyWithOptions(o.c, &logsapi.LoggingOptions{ErrorStream: os.Stderr, InfoStream: os.Stderr}, nil)
}
