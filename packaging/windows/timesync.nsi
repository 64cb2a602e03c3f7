; timesync's Windows installer (NSIS 3, makensis on any OS; make dist).
; makensis -DVERSION=1.2.3 -DSRC=dist/windows-amd64 -DICON=assets/icons/timesync.ico
;          -DOUTFILE=dist/timesync-1.2.3-windows-amd64-setup.exe packaging/windows/timesync.nsi
;
; Installs timesync.exe and timesync-gui.exe to Program Files\timesync,
; registers and starts the service ("timesync.exe service install": the
; service control manager entry, its recovery actions and the Event Log
; source), stops and disables the Windows Time service (W32Time) so that its
; NTP client does not fight timesync over the clock, adds the tray app to the
; Start menu and to every user's login (HKLM Run), and an uninstaller that
; undoes all of that and puts W32Time back as it was. The configuration
; and drift file in %ProgramData%\timesync are the service's and stay.
;
; Silent: setup.exe /S [/D=C:\path]; uninstall.exe /S.

Unicode true
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel admin
ManifestSupportedOS all

!include LogicLib.nsh
!include WinMessages.nsh

!ifndef VERSION
  !error "VERSION is not defined (makensis -DVERSION=...)"
!endif
!ifndef SRC
  !error "SRC (directory of timesync.exe and timesync-gui.exe) is not defined"
!endif

!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\timesync"
!define STATEKEY  "Software\timesync\Installer"
!define RUNKEY    "Software\Microsoft\Windows\CurrentVersion\Run"
!define W32TIME   "SYSTEM\CurrentControlSet\Services\W32Time"

Name "timesync ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\timesync"
InstallDirRegKey HKLM "${UNINSTKEY}" "InstallLocation"
Icon "${ICON}"
UninstallIcon "${ICON}"
ShowInstDetails show
ShowUninstDetails show
VIProductVersion "0.0.0.0"
VIAddVersionKey "ProductName" "timesync"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "timesync installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "timesync developers"

Page directory
Page instfiles
UninstPage uninstConfirm
UninstPage instfiles

; Run: a command line, its output in the details, its exit code in $0.
!macro Run cmd
  DetailPrint `> ${cmd}`
  nsExec::ExecToLog '${cmd}'
  Pop $0
!macroend

Function .onInit
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Section "timesync" SecMain
  SectionIn RO
  ; An older timesync: stop and unregister its service before replacing it.
  ${If} ${FileExists} "$INSTDIR\timesync.exe"
    !insertmacro Run '"$INSTDIR\timesync.exe" service stop'
    !insertmacro Run '"$INSTDIR\timesync.exe" service uninstall'
  ${EndIf}
  !insertmacro Run '"$SYSDIR\taskkill.exe" /F /IM timesync-gui.exe'

  SetOutPath "$INSTDIR"
  File "${SRC}\timesync.exe"
  File "${SRC}\timesync-gui.exe"
  File /oname=timesync.ico "${ICON}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  WriteRegStr HKLM "${UNINSTKEY}" "DisplayName" "timesync"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTKEY}" "Publisher" "timesync developers"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\timesync.ico"
  WriteRegStr HKLM "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTKEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTKEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoRepair" 1

  ; The tray: Start menu and every user's login.
  CreateDirectory "$SMPROGRAMS\timesync"
  CreateShortCut "$SMPROGRAMS\timesync\timesync.lnk" "$INSTDIR\timesync-gui.exe" "--status" "$INSTDIR\timesync.ico"
  CreateShortCut "$SMPROGRAMS\timesync\Uninstall timesync.lnk" "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "${RUNKEY}" "timesync" '"$INSTDIR\timesync-gui.exe"'

  ; The service's directory (configuration, drift file): ProgramData lets
  ; every user create files in a new subfolder, and the service, running as
  ; LocalSystem, reads the configuration there and writes the drift file
  ; where it names. So it belongs to Administrators, and only SYSTEM and
  ; Administrators may change anything in it; users may read.
  CreateDirectory "$APPDATA\timesync"
  !insertmacro Run '"$SYSDIR\icacls.exe" "$APPDATA\timesync" /setowner *S-1-5-32-544 /T /C /Q'
  !insertmacro Run '"$SYSDIR\icacls.exe" "$APPDATA\timesync" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F *S-1-5-32-545:(OI)(CI)RX /T /C /Q'
  ${If} $0 != 0
    DetailPrint "Could not restrict $APPDATA\timesync to SYSTEM and Administrators (icacls exit $0): check its permissions"
  ${EndIf}

  ; The service: registration (timesync.exe service install) and start.
  !insertmacro Run '"$INSTDIR\timesync.exe" service install'
  ${If} $0 != 0
    ; W32Time is left as it is: nothing else would set the clock.
    DetailPrint "timesync.exe service install failed (exit $0): the service is not registered; W32Time left as it was"
    SetErrorLevel 3
    ${IfNot} ${Silent}
      MessageBox MB_OK|MB_ICONSTOP "Could not register the timesync service (timesync.exe service install, exit $0). See the details; the files are installed and the uninstaller removes them."
    ${EndIf}
    Abort "Could not register the timesync service"
  ${EndIf}
  ; W32Time, once timesync's service is registered: remember its start
  ; type and whether it ran (only the first time: a reinstall must not
  ; record our own "disabled"), then stop and disable it, as timesync's
  ; conflict check advises.
  ClearErrors
  ReadRegDWORD $1 HKLM "${W32TIME}" "Start"
  ${If} ${Errors}
    DetailPrint "W32Time is not installed here; nothing to stop"
  ${Else}
    ClearErrors
    ReadRegDWORD $2 HKLM "${STATEKEY}" "W32TimeStart"
    ${If} ${Errors}
      WriteRegDWORD HKLM "${STATEKEY}" "W32TimeStart" $1
      nsExec::ExecToStack '"$SYSDIR\cmd.exe" /C sc.exe query w32time | find.exe "RUNNING"'
      Pop $3
      Pop $4
      ${If} $3 == 0
        WriteRegDWORD HKLM "${STATEKEY}" "W32TimeWasRunning" 1
      ${Else}
        WriteRegDWORD HKLM "${STATEKEY}" "W32TimeWasRunning" 0
      ${EndIf}
    ${EndIf}
    !insertmacro Run '"$SYSDIR\sc.exe" stop w32time'
    !insertmacro Run '"$SYSDIR\sc.exe" config w32time start= disabled'
    DetailPrint "Stopped and disabled the Windows Time service (W32Time); uninstalling timesync restores it"
  ${EndIf}

  !insertmacro Run '"$INSTDIR\timesync.exe" service start'
  ${If} $0 != 0
    DetailPrint "The timesync service is registered but did not start (exit $0); see the Event Log (source timesync)"
  ${EndIf}

  ; Start the tray now, as the desktop's user rather than elevated
  ; (explorer.exe starts it in the user's session). Not in a silent install.
  ${IfNot} ${Silent}
    Exec '"$WINDIR\explorer.exe" "$INSTDIR\timesync-gui.exe"'
  ${EndIf}
SectionEnd

Section "Uninstall"
  !insertmacro Run '"$SYSDIR\taskkill.exe" /F /IM timesync-gui.exe'
  !insertmacro Run '"$INSTDIR\timesync.exe" service stop'
  !insertmacro Run '"$INSTDIR\timesync.exe" service uninstall'

  ; W32Time as it was before the first install.
  ClearErrors
  ReadRegDWORD $1 HKLM "${STATEKEY}" "W32TimeStart"
  ${IfNot} ${Errors}
    ${Select} $1
      ${Case} 2
        StrCpy $2 "auto"
      ${Case} 3
        StrCpy $2 "demand"
      ${Case} 4
        StrCpy $2 "disabled"
      ${CaseElse}
        StrCpy $2 "demand"
    ${EndSelect}
    !insertmacro Run '"$SYSDIR\sc.exe" config w32time start= $2'
    ReadRegDWORD $3 HKLM "${STATEKEY}" "W32TimeWasRunning"
    ${If} $3 == 1
      !insertmacro Run '"$SYSDIR\sc.exe" start w32time'
    ${EndIf}
    DetailPrint "Restored the Windows Time service (W32Time): start type $2"
  ${EndIf}
  DeleteRegKey HKLM "${STATEKEY}"
  DeleteRegKey /ifempty HKLM "Software\timesync"

  DeleteRegValue HKLM "${RUNKEY}" "timesync"
  Delete "$SMPROGRAMS\timesync\timesync.lnk"
  Delete "$SMPROGRAMS\timesync\Uninstall timesync.lnk"
  RMDir "$SMPROGRAMS\timesync"

  Delete "$INSTDIR\timesync.exe"
  Delete "$INSTDIR\timesync-gui.exe"
  Delete "$INSTDIR\timesync.ico"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINSTKEY}"
  DetailPrint "The configuration and drift file in $APPDATA\timesync are kept"
SectionEnd
