@echo off
rem Kyso on the command line: "kyso-agent doctor", "kyso-agent trust status", "kyso-agent --help".
rem Needs Python 3.11+ from python.org with the py launcher (see README-IT.txt).
py -3 "%~dp0kyso_launcher.pyw" %*
exit /b %ERRORLEVEL%
